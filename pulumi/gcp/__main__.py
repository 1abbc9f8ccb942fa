"""`pulumi up` entry point: the program lives in gcp_stack so it can be run offline under mocks too."""

from gcp_stack.program import main

main()
