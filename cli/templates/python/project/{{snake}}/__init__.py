"""{{kebab}}: an Omnitron application."""
