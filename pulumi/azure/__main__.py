"""`pulumi up` entry point: one stack per environment of the spec (dev, staging, prod)."""

from azure_stack.program import main

main()
