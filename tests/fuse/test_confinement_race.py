#!/usr/bin/env python3
"""Tests of confinement_race.py's stopping rule: a minimum time, enough rounds, and a hard bound."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import confinement_race  # noqa: E402


class StoppingRule(unittest.TestCase):
    def test_runs_at_least_the_requested_time(self):
        self.assertTrue(confinement_race.should_go_on(1.0, 3.0, confinement_race.ENOUGH_ROUNDS * 10))

    def test_goes_on_past_the_time_until_enough_rounds(self):
        self.assertTrue(confinement_race.should_go_on(30.0, 3.0, confinement_race.ENOUGH_ROUNDS - 1))
        self.assertFalse(confinement_race.should_go_on(3.0, 3.0, confinement_race.ENOUGH_ROUNDS))

    def test_never_runs_past_the_bound(self):
        self.assertFalse(confinement_race.should_go_on(confinement_race.LONGEST, 3.0, 0))


if __name__ == "__main__":
    unittest.main()
