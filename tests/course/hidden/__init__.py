"""Hidden topic tests: kept out of student copies (make_assignment.py --hidden-tests DIR); the grader runs them."""
