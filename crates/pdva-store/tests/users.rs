//! Users, sign-in and sessions, on SQLite and (when PDVA_TEST_POSTGRES_URL
//! is set) PostgreSQL: accounts are audited in the hash chain, sign-in backs
//! off after repeated failures without saying why, sessions expire.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use pdva_domain::values::SiteCode;
use pdva_store::{
    NewUser, NoProgress, Password, Role, SESSION_ABSOLUTE, SESSION_IDLE, SignIn, SiteAccess, Store,
    StoreError, User, Username,
};

fn now() -> DateTime<Utc> {
    "2026-06-30T09:00:00Z".parse().unwrap()
}

async fn add_user(store: &Store, name: &str, role: Role, sites: SiteAccess) -> User {
    store
        .create_user(
            &pdva_store::Actor::new("admin.setup"),
            NewUser {
                username: Username::parse(name).unwrap(),
                display_name: format!("Dr {name}"),
                role,
                sites,
                password: Password::parse("correct horse battery").unwrap(),
                clinician: None,
            },
        )
        .await
        .unwrap()
}

fn tst() -> SiteAccess {
    SiteAccess::Sites(vec![SiteCode::parse("TST").unwrap()])
}

on_both_engines!(
    a_user_is_created_audited_and_signs_in,
    |db: TestDb| async move {
        db.store.create_site(&actor(), site("TST")).await.unwrap();
        let user = add_user(&db.store, "a.surgeon", Role::Clinician, tst()).await;
        assert_eq!(db.store.users().await.unwrap(), vec![user.clone()]);
        let log = db.store.audit_log(Some(user.id), 10).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].record_kind, "user");
        assert_eq!(log[0].action, "create");
        assert_eq!(log[0].actor, "admin.setup");
        match db
            .store
            .sign_in("A.Surgeon", "correct horse battery", now())
            .await
            .unwrap()
        {
            SignIn::Accepted(u) => assert_eq!(u, user),
            SignIn::Refused => panic!("refused"),
        }
        assert!(
            db.store
                .verify_audit(&NoProgress)
                .await
                .unwrap()
                .is_intact()
        );

        // A username is unique; an unknown site is named.
        let again = db
            .store
            .create_user(
                &actor(),
                NewUser {
                    username: Username::parse("a.surgeon").unwrap(),
                    display_name: "Someone".into(),
                    role: Role::Researcher,
                    sites: SiteAccess::All,
                    password: Password::parse("another long password").unwrap(),
                    clinician: None,
                },
            )
            .await
            .unwrap_err();
        assert!(again.to_string().contains("username"), "{again}");
        let unknown = db
            .store
            .create_user(
                &actor(),
                NewUser {
                    username: Username::parse("b.surgeon").unwrap(),
                    display_name: "Someone".into(),
                    role: Role::Clinician,
                    sites: SiteAccess::Sites(vec![SiteCode::parse("NOPE").unwrap()]),
                    password: Password::parse("another long password").unwrap(),
                    clinician: None,
                },
            )
            .await
            .unwrap_err();
        assert!(unknown.to_string().contains("\"NOPE\""), "{unknown}");
    }
);

on_both_engines!(
    role_and_site_changes_are_audited_and_raw_sql_grants_are_found,
    |db: TestDb| async move {
        db.store.create_site(&actor(), site("TST")).await.unwrap();
        db.store.create_site(&actor(), site("OTH")).await.unwrap();
        let user = add_user(&db.store, "r.searcher", Role::Researcher, tst()).await;
        let refused = db
            .store
            .change_user_access(
                &actor(),
                user.id,
                Role::Researcher,
                SiteAccess::All,
                false,
                " ",
            )
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::ReasonRequired(_)));
        let changed = db
            .store
            .change_user_access(
                &pdva_store::Actor::new("the.admin"),
                user.id,
                Role::GovernanceLead,
                SiteAccess::Sites(vec![
                    SiteCode::parse("OTH").unwrap(),
                    SiteCode::parse("TST").unwrap(),
                ]),
                false,
                "appointed governance lead",
            )
            .await
            .unwrap();
        assert_eq!(changed.role, Role::GovernanceLead);
        let log = db.store.audit_log(Some(user.id), 10).await.unwrap();
        assert_eq!(log[0].actor, "the.admin");
        assert_eq!(log[0].reason.as_deref(), Some("appointed governance lead"));
        assert!(
            log[0]
                .before_state
                .as_deref()
                .unwrap()
                .contains("researcher")
        );
        assert!(
            db.store
                .verify_audit(&NoProgress)
                .await
                .unwrap()
                .is_intact()
        );

        // Granting a role behind the application's back is found.
        sqlx::query("UPDATE app_user SET role = 'admin' WHERE id = $1")
            .bind(user.id.to_string())
            .execute(db.store.pool())
            .await
            .unwrap();
        let report = db.store.verify_audit(&NoProgress).await.unwrap();
        assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
        assert_eq!(report.breaks[0].record_id, user.id.to_string());
        assert!(report.breaks[0].problem.contains("outside the application"));
    }
);

on_both_engines!(
    repeated_failures_lock_the_account_and_refusals_do_not_say_why,
    |db: TestDb| async move {
        db.store.create_site(&actor(), site("TST")).await.unwrap();
        add_user(&db.store, "a.surgeon", Role::Clinician, tst()).await;
        let s = &db.store;
        assert_eq!(
            s.sign_in("nobody.here", "correct horse battery", now())
                .await
                .unwrap(),
            SignIn::Refused
        );
        for _ in 0..5 {
            assert_eq!(
                s.sign_in("a.surgeon", "wrong password!", now())
                    .await
                    .unwrap(),
                SignIn::Refused
            );
        }
        // Locked for a minute: even the right password is refused, the same way.
        assert_eq!(
            s.sign_in(
                "a.surgeon",
                "correct horse battery",
                now() + Duration::seconds(30)
            )
            .await
            .unwrap(),
            SignIn::Refused
        );
        let later = now() + Duration::seconds(61);
        assert!(matches!(
            s.sign_in("a.surgeon", "correct horse battery", later)
                .await
                .unwrap(),
            SignIn::Accepted(_)
        ));
        // Success resets the count: five more failures lock for one minute
        // again (attempts while locked do not count); the next failure after
        // it doubles the lock to two minutes.
        for _ in 0..5 {
            s.sign_in("a.surgeon", "wrong password!", later)
                .await
                .unwrap();
        }
        let after_lock = later + Duration::seconds(61);
        s.sign_in("a.surgeon", "wrong password!", after_lock)
            .await
            .unwrap();
        assert_eq!(
            s.sign_in(
                "a.surgeon",
                "correct horse battery",
                after_lock + Duration::seconds(90)
            )
            .await
            .unwrap(),
            SignIn::Refused
        );
        assert!(matches!(
            s.sign_in(
                "a.surgeon",
                "correct horse battery",
                after_lock + Duration::seconds(121)
            )
            .await
            .unwrap(),
            SignIn::Accepted(_)
        ));
    }
);

on_both_engines!(
    sessions_keep_only_a_hash_expire_and_end_at_sign_out,
    |db: TestDb| async move {
        db.store.create_site(&actor(), site("TST")).await.unwrap();
        let user = add_user(&db.store, "a.surgeon", Role::Clinician, tst()).await;
        let s = &db.store;
        let session = s.start_session(&user, now()).await.unwrap();
        let stored: String = sqlx::query_scalar("SELECT id FROM app_session")
            .fetch_one(s.pool())
            .await
            .unwrap();
        assert_ne!(stored, session.token, "the token itself is never stored");
        let live = s.session(&session.token, now()).await.unwrap().unwrap();
        assert_eq!(live.user, user);
        assert_eq!(live.csrf_token, session.csrf_token);
        assert!(s.session("not-a-token", now()).await.unwrap().is_none());
        // Idle expiry slides with use...
        let mut t = now();
        for _ in 0..30 {
            t += SESSION_IDLE - Duration::minutes(5);
            if t >= now() + SESSION_ABSOLUTE {
                break;
            }
            assert!(s.session(&session.token, t).await.unwrap().is_some(), "{t}");
        }
        // ...but never past the absolute limit.
        assert!(
            s.session(&session.token, now() + SESSION_ABSOLUTE)
                .await
                .unwrap()
                .is_none()
        );
        // Idle too long: gone.
        let other = s.start_session(&user, now()).await.unwrap();
        assert!(
            s.session(&other.token, now() + SESSION_IDLE + Duration::seconds(1))
                .await
                .unwrap()
                .is_none()
        );
        // Sign-out deletes it.
        let third = s.start_session(&user, now()).await.unwrap();
        s.end_session(&third.token).await.unwrap();
        assert!(s.session(&third.token, now()).await.unwrap().is_none());
        // Disabling the account ends its sessions.
        let fourth = s.start_session(&user, now()).await.unwrap();
        s.change_user_access(
            &actor(),
            user.id,
            Role::Clinician,
            tst(),
            true,
            "left the trust",
        )
        .await
        .unwrap();
        assert!(s.session(&fourth.token, now()).await.unwrap().is_none());
        assert_eq!(
            s.sign_in("a.surgeon", "correct horse battery", now())
                .await
                .unwrap(),
            SignIn::Refused
        );
    }
);
