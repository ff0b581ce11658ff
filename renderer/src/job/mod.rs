//! Dataset jobs (planning, sharding, resume, writes).
