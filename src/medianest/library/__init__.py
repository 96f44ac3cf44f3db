"""Library: scanning media folders into searchable items."""
