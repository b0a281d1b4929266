//! API tokens on SQLite and (when PDVA_TEST_POSTGRES_URL is set)
//! PostgreSQL: shown once and stored as a hash, acting as their user as the
//! account stands, refused once expired or revoked or when the user is
//! disabled, and audited so that a token written by raw SQL is found.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use pdva_domain::values::SiteCode;
use pdva_store::{
    Actor, MAX_TOKEN_DAYS, NewUser, NoProgress, Password, Role, SiteAccess, Store, StoreError,
    User, Username,
};
use sqlx::Row;

fn now() -> DateTime<Utc> {
    "2026-06-30T09:00:00Z".parse().unwrap()
}

async fn add_user(store: &Store, name: &str) -> User {
    store
        .create_user(
            &Actor::new("admin.setup"),
            NewUser {
                username: Username::parse(name).unwrap(),
                display_name: format!("Dr {name}"),
                role: Role::Clinician,
                sites: SiteAccess::Sites(vec![SiteCode::parse("TST").unwrap()]),
                password: Password::parse("correct horse battery").unwrap(),
                clinician: None,
            },
        )
        .await
        .unwrap()
}

on_both_engines!(
    a_token_acts_as_its_user_until_it_expires,
    |db: TestDb| async move {
        db.store.create_site(&actor(), site("TST")).await.unwrap();
        let user = add_user(&db.store, "a.surgeon").await;
        let new = db
            .store
            .create_api_token(
                &Actor::new("cli:ops"),
                user.id,
                "nightly export",
                Some(30),
                now(),
            )
            .await
            .unwrap();
        assert!(new.token.starts_with("pdva_"), "{}", new.token.len());
        assert!(!format!("{new:?}").contains(&new.token[5..]));
        // Only the hash is stored.
        let stored: String = sqlx::query("SELECT token_hash FROM api_token")
            .fetch_one(db.store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_ne!(stored, new.token);
        assert!(!stored.contains(&new.token[5..]));

        let used = db
            .store
            .authenticate_api_token(&new.token, now() + Duration::days(29))
            .await
            .unwrap()
            .expect("a live token authenticates");
        assert_eq!(used.user, user);
        assert_eq!(used.token_id, new.info.id);
        let listed = db.store.api_tokens(user.id).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, "nightly export");
        assert!(listed[0].last_used_at.is_some());

        // Expired, wrong or mangled: refused.
        for (token, at) in [
            (new.token.clone(), now() + Duration::days(30)),
            (format!("{}0", new.token), now()),
            ("pdva_".to_owned(), now()),
            (new.token[5..].to_owned(), now()),
        ] {
            assert!(
                db.store
                    .authenticate_api_token(&token, at)
                    .await
                    .unwrap()
                    .is_none(),
                "{token} at {at}"
            );
        }

        // The user's role as it stands now, and no token once disabled.
        db.store
            .change_user_access(
                &actor(),
                user.id,
                Role::GovernanceLead,
                user.sites.clone(),
                false,
                "moved to governance",
            )
            .await
            .unwrap();
        let used = db
            .store
            .authenticate_api_token(&new.token, now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(used.user.role, Role::GovernanceLead);
        db.store
            .change_user_access(
                &actor(),
                user.id,
                Role::GovernanceLead,
                user.sites.clone(),
                true,
                "left the trust",
            )
            .await
            .unwrap();
        assert!(
            db.store
                .authenticate_api_token(&new.token, now())
                .await
                .unwrap()
                .is_none()
        );
        let refused = db
            .store
            .create_api_token(&actor(), user.id, "another", None, now())
            .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{refused:?}"
        );
    }
);

on_both_engines!(
    a_revoked_token_is_refused_and_both_changes_are_audited,
    |db: TestDb| async move {
        db.store.create_site(&actor(), site("TST")).await.unwrap();
        let user = add_user(&db.store, "a.surgeon").await;
        let other = add_user(&db.store, "b.surgeon").await;
        let new = db
            .store
            .create_api_token(&Actor::new("a.surgeon"), user.id, "script", None, now())
            .await
            .unwrap();
        // 90 days unless asked otherwise; a year at most.
        assert!(
            new.info.expires_at.starts_with("2026-09-28"),
            "{}",
            new.info.expires_at
        );
        for days in [0, MAX_TOKEN_DAYS + 1] {
            let e = db
                .store
                .create_api_token(&actor(), user.id, "x", Some(days), now())
                .await;
            assert!(matches!(e, Err(StoreError::Invalid(_))), "{days}: {e:?}");
        }
        // Someone else's token is not found for them.
        let e = db
            .store
            .revoke_api_token(&Actor::new("b.surgeon"), new.info.id, Some(other.id), now())
            .await;
        assert!(matches!(e, Err(StoreError::NotFound(_))), "{e:?}");
        let revoked = db
            .store
            .revoke_api_token(&Actor::new("a.surgeon"), new.info.id, Some(user.id), now())
            .await
            .unwrap();
        assert_eq!(revoked.revoked_by.as_deref(), Some("a.surgeon"));
        assert!(
            db.store
                .authenticate_api_token(&new.token, now())
                .await
                .unwrap()
                .is_none()
        );
        let log = db.store.audit_log(Some(new.info.id), 10).await.unwrap();
        let mut actions: Vec<(&str, &str, &str)> = log
            .iter()
            .map(|e| (e.action.as_str(), e.actor.as_str(), e.record_kind.as_str()))
            .collect();
        actions.sort();
        assert_eq!(
            actions,
            vec![
                ("create", "a.surgeon", "api_token"),
                ("update", "a.surgeon", "api_token")
            ]
        );
        assert!(log.iter().all(|e| {
            !e.before_state
                .clone()
                .unwrap_or_default()
                .contains(&new.token)
        }));
        let report = db.store.verify_audit(&NoProgress).await.unwrap();
        assert!(report.is_intact(), "{:?}", report.breaks);

        // Reviving the token by raw SQL is found.
        sqlx::query("UPDATE api_token SET revoked_at = NULL, revoked_by = NULL")
            .execute(db.store.pool())
            .await
            .unwrap();
        let report = db.store.verify_audit(&NoProgress).await.unwrap();
        assert!(
            report
                .breaks
                .iter()
                .any(|b| b.record_id == new.info.id.to_string()),
            "{:?}",
            report.breaks
        );
    }
);
