"""The command line: parsing options and presenting results. The only layer that prints or exits."""
