"""Other engines than SimpleITK: what a strategy reports of an execution another engine made."""
