"""The replacement drill: every instance of the sample service replaced under load, nothing lost (REL05-BP06)."""
