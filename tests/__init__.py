"""The test suite, as a package: pytest imports it in importlib mode and helpers import relatively."""
