"""Fakes of remote vendors, speaking their wire protocols."""
