// READ /work/main/TEAM.md FIRST: team rules (no git commits, shared target dir, deadline 04:35 UTC).
//! Mesh loading.
