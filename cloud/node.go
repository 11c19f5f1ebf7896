package cloud

// ProviderIDNote is " (providerID aws:///…)" for the node of that name that has one,
// else "": what a message about a node the exports do not hold adds to its name.
func ProviderIDNote(nodes []Node, name string) string {
	note := ""
	for _, n := range nodes {
		if n.Name == name && n.ProviderID != "" {
			note = " (providerID " + n.ProviderID + ")"
		}
	}
	return note
}
