"""The one place that talks to model providers: clients per purpose and their failures."""
