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

on_both_engines!(
    the_last_active_administrator_cannot_be_demoted_or_disabled,
    |db: TestDb| async move {
        db.store.create_site(&actor(), site("TST")).await.unwrap();
        let s = &db.store;
        let first = add_user(s, "first.admin", Role::Admin, SiteAccess::All).await;
        let as_first = pdva_store::Actor::new("first.admin");
        // Alone: neither another role nor disabling is allowed, and nothing
        // is written.
        for (role, disabled) in [(Role::Clinician, false), (Role::Admin, true)] {
            let refused = s
                .change_user_access(&as_first, first.id, role, tst(), disabled, "stepping down")
                .await
                .unwrap_err();
            assert!(
                matches!(refused, StoreError::LastAdministrator),
                "{refused}"
            );
            assert!(
                refused
                    .to_string()
                    .contains("another user an administrator")
            );
        }
        assert_eq!(s.users().await.unwrap(), vec![first.clone()]);
        assert_eq!(s.audit_log(Some(first.id), 10).await.unwrap().len(), 1);
        // A change that keeps them an active administrator is fine.
        s.change_user_access(&as_first, first.id, Role::Admin, tst(), false, "one site")
            .await
            .unwrap();
        // With a second active administrator the first may step down...
        let second = add_user(s, "second.admin", Role::Admin, SiteAccess::All).await;
        s.change_user_access(
            &as_first,
            first.id,
            Role::GovernanceLead,
            tst(),
            false,
            "back to governance",
        )
        .await
        .unwrap();
        // ...and then the second is the last: a disabled administrator does
        // not count.
        let third = add_user(s, "third.admin", Role::Admin, SiteAccess::All).await;
        let as_second = pdva_store::Actor::new("second.admin");
        s.change_user_access(
            &as_second,
            third.id,
            Role::Admin,
            SiteAccess::All,
            true,
            "on leave",
        )
        .await
        .unwrap();
        for (role, disabled) in [(Role::Researcher, false), (Role::Admin, true)] {
            let refused = s
                .change_user_access(&as_second, second.id, role, tst(), disabled, "leaving")
                .await
                .unwrap_err();
            assert!(
                matches!(refused, StoreError::LastAdministrator),
                "{refused}"
            );
        }
        // Bringing the third back lets the second go.
        s.change_user_access(
            &as_second,
            third.id,
            Role::Admin,
            SiteAccess::All,
            false,
            "back",
        )
        .await
        .unwrap();
        s.change_user_access(
            &as_second,
            second.id,
            Role::Admin,
            SiteAccess::All,
            true,
            "leaving",
        )
        .await
        .unwrap();
        assert!(s.verify_audit(&NoProgress).await.unwrap().is_intact());
    }
);

on_both_engines!(
    a_reset_password_must_be_changed_and_both_are_audited,
    |db: TestDb| async move {
        db.store.create_site(&actor(), site("TST")).await.unwrap();
        let s = &db.store;
        let user = add_user(s, "a.surgeon", Role::Clinician, tst()).await;
        let old = "correct horse battery";
        // Locked out by guessing, with a session open somewhere.
        let open = s.start_session(&user, now()).await.unwrap();
        for _ in 0..5 {
            s.sign_in("a.surgeon", "wrong password!", now())
                .await
                .unwrap();
        }
        let admin = pdva_store::Actor::new("the.admin");
        let refused = s.reset_password(&admin, user.id, "  ").await.unwrap_err();
        assert!(
            matches!(refused, StoreError::ReasonRequired(_)),
            "{refused}"
        );
        let temporary = s
            .reset_password(&admin, user.id, "forgot it, identity checked by phone")
            .await
            .unwrap();
        assert_eq!(format!("{temporary:?}"), "TemporaryPassword(***)");
        // The reset ends the user's sessions and the lock-out; the old
        // password no longer signs in, the temporary one does, flagged.
        assert!(s.session(&open.token, now()).await.unwrap().is_none());
        assert_eq!(
            s.sign_in("a.surgeon", old, now()).await.unwrap(),
            SignIn::Refused
        );
        let flagged = match s
            .sign_in("a.surgeon", temporary.reveal(), now())
            .await
            .unwrap()
        {
            SignIn::Accepted(u) => u,
            SignIn::Refused => panic!("the temporary password was refused"),
        };
        assert!(flagged.must_change_password);
        let log = s.audit_log(Some(user.id), 10).await.unwrap();
        assert_eq!(log[0].actor, "the.admin");
        assert_eq!(
            log[0].reason.as_deref(),
            Some("password reset: forgot it, identity checked by phone")
        );
        assert!(s.verify_audit(&NoProgress).await.unwrap().is_intact());

        // The user changes it: a wrong current password or the same one
        // again changes nothing.
        let here = s.start_session(&flagged, now()).await.unwrap();
        let elsewhere = s.start_session(&flagged, now()).await.unwrap();
        let new = "a much better passphrase";
        let wrong = s
            .change_own_password(
                user.id,
                old,
                Password::parse(new).unwrap(),
                Some(&here.token),
            )
            .await
            .unwrap_err();
        assert!(matches!(wrong, StoreError::WrongPassword), "{wrong}");
        let same = s
            .change_own_password(
                user.id,
                temporary.reveal(),
                Password::parse(temporary.reveal()).unwrap(),
                Some(&here.token),
            )
            .await
            .unwrap_err();
        assert!(matches!(same, StoreError::Invalid(_)), "{same}");
        assert_eq!(s.audit_log(Some(user.id), 10).await.unwrap().len(), 2);
        assert!(s.session(&elsewhere.token, now()).await.unwrap().is_some());
        let changed = s
            .change_own_password(
                user.id,
                temporary.reveal(),
                Password::parse(new).unwrap(),
                Some(&here.token),
            )
            .await
            .unwrap();
        assert!(!changed.must_change_password);
        // The session in use stays; the others end.
        assert!(s.session(&here.token, now()).await.unwrap().is_some());
        assert!(s.session(&elsewhere.token, now()).await.unwrap().is_none());
        assert_eq!(
            s.sign_in("a.surgeon", temporary.reveal(), now())
                .await
                .unwrap(),
            SignIn::Refused
        );
        match s.sign_in("a.surgeon", new, now()).await.unwrap() {
            SignIn::Accepted(u) => assert!(!u.must_change_password),
            SignIn::Refused => panic!("the new password was refused"),
        }
        let log = s.audit_log(Some(user.id), 10).await.unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(log[0].actor, "a.surgeon");
        assert_eq!(
            log[0].reason.as_deref(),
            Some("password changed by the user after an administrator's reset")
        );
        assert!(s.verify_audit(&NoProgress).await.unwrap().is_intact());

        // The flag is audited: set or cleared behind the application's back,
        // it is found.
        sqlx::query("UPDATE app_user SET must_change_password = 1 WHERE id = $1")
            .bind(user.id.to_string())
            .execute(s.pool())
            .await
            .unwrap();
        let report = s.verify_audit(&NoProgress).await.unwrap();
        assert_eq!(report.breaks.len(), 1, "{:?}", report.breaks);
        assert_eq!(report.breaks[0].record_id, user.id.to_string());
    }
);

on_both_engines!(
    wrong_current_passwords_count_toward_the_sign_in_lock_out,
    |db: TestDb| async move {
        // A session left open is not proof of knowing the password: guesses
        // at the current one lock the account as sign-in failures do.
        db.store.create_site(&actor(), site("TST")).await.unwrap();
        let user = add_user(&db.store, "a.surgeon", Role::Clinician, tst()).await;
        let right = "correct horse battery";
        let new = || Password::parse("a much better passphrase").unwrap();
        let session = db.store.start_session(&user, Utc::now()).await.unwrap();
        for attempt in 1..=pdva_store::FAILURES_BEFORE_LOCK {
            let e = db
                .store
                .change_own_password(user.id, "a guess at it", new(), None)
                .await
                .unwrap_err();
            assert!(matches!(e, StoreError::WrongPassword), "{e}");
            // The session the guesses come from ends with the lock.
            let open = db
                .store
                .session(&session.token, Utc::now())
                .await
                .unwrap()
                .is_some();
            assert_eq!(
                open,
                attempt < pdva_store::FAILURES_BEFORE_LOCK,
                "{attempt}"
            );
        }
        // Locked: sign-in is refused, and so is a change with the right
        // password, which changes nothing.
        let now = Utc::now();
        assert!(matches!(
            db.store.sign_in("a.surgeon", right, now).await.unwrap(),
            SignIn::Refused
        ));
        let e = db
            .store
            .change_own_password(user.id, right, new(), None)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::WrongPassword), "{e}");
        // When the lock has passed, the right password signs in as before.
        let later = now + pdva_store::FIRST_LOCK + Duration::seconds(1);
        assert!(matches!(
            db.store.sign_in("a.surgeon", right, later).await.unwrap(),
            SignIn::Accepted(_)
        ));
    }
);
