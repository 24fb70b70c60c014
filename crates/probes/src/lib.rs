//! Real PostgreSQL and HTTP probes.
