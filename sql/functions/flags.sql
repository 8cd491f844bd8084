-- flags: feature flags. A flag is on for rollout_percent of its subjects: a
-- subject (a customer id; for signup, the lower-cased e-mail address) is
-- in when the first four bytes of SHA-256("<flag>:<subject>"), read as a
-- big-endian number, modulo 100 are below the percentage. The same subject
-- always falls in the same bucket, so raising the percentage only ever
-- adds subjects.

-- feature_bucket: the subject's bucket, 0..99, for flag p_name.
CREATE FUNCTION feature_bucket(p_name text, p_subject text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT (('x' || left(encode(sha256(convert_to(p_name || ':' || p_subject, 'UTF8')), 'hex'),
                         8))::bit(32)::bigint % 100)::integer;
$$;

-- feature_enabled: flag p_name is on for p_subject. An unknown flag is on.
CREATE FUNCTION feature_enabled(p_name text, p_subject text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT f.rollout_percent >= 100
                            OR (f.rollout_percent > 0
                                AND feature_bucket(p_name, p_subject) < f.rollout_percent)
                       FROM feature_flags f WHERE f.name = p_name), true);
$$;

-- feature_flag_set: set a flag's percentage (audited); no row when unknown.
CREATE FUNCTION feature_flag_set(p_name text, p_percent integer)
RETURNS SETOF feature_flags LANGUAGE sql AS $$
    UPDATE feature_flags SET rollout_percent = p_percent, updated_at = now()
     WHERE name = p_name RETURNING *;
$$;
