"""The course kit's topic tests: tests/course/test_<topic>.py is the fast tier of <topic>."""
