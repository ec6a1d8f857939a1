-- Reading the audit log by who, what and which target (the staff audit API and exports),
-- in log order within each.
-- Paired with ../sqlite/ (same version, same indexes); edit neither once released.
CREATE INDEX audit_log_by_actor_id ON audit_log (actor_id, seq);
CREATE INDEX audit_log_by_target ON audit_log (target_kind, target_id, seq);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);
