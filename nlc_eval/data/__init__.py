"""Data layer: official gov.scot files, council pupil-level extracts, synthetic authority."""
