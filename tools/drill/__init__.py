"""The replacement drill: every instance of the sample service replaced under load, nothing lost."""
