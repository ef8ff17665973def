"""What platforms must do with what they receive and train on: AI-label checks (labels, tiers,
propagate: GB 45438-2025, CAC Measures Art. 6) and training-data audits (audit/)."""
