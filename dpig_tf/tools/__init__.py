"""Command-line tools that are not training or applications (e.g. the TF1 importer)."""
