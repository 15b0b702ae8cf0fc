SELECT id, email, display_name, role, session_epoch, disabled, created_at, last_login_at FROM staff WHERE id = :staff;
SELECT id, name, email FROM users WHERE name ILIKE '%nguyen.512%' OR email ILIKE '%nguyen.512%' ORDER BY lower(name), id LIMIT 20;
