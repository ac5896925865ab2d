"""Data for the course: preparation scripts and seeded generators. Nothing here downloads anything."""
