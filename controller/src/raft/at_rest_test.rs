//! Tests of sealing and of the unlock-key decision.

use super::at_rest::*;

fn found(wrapped: bool, key_file: Option<&UnlockKey>) -> Found {
    Found {
        wrapped,
        key_file: key_file.cloned(),
    }
}

fn keys(autolock: bool, supplied: Option<&UnlockKey>) -> Keys {
    Keys {
        autolock,
        supplied: supplied.cloned(),
    }
}

#[test]
fn a_sealed_value_opens_only_with_its_data_key_and_shows_nothing_in_clear() {
    let key = DataKey::generate();
    let plain = b"-----BEGIN PRIVATE KEY----- the CA key";
    let sealed = key.seal(plain);
    assert!(is_sealed(&sealed));
    assert!(!sealed.windows(5).any(|w| w == b"BEGIN"));
    assert_eq!(key.open(&sealed).expect("opens"), plain);
    assert_ne!(key.seal(plain), sealed, "every seal has its own nonce");
    assert_eq!(DataKey::generate().open(&sealed), Err(KeyError::Damaged));
    let mut flipped = sealed.clone();
    *flipped.last_mut().expect("a tag") ^= 1;
    assert_eq!(key.open(&flipped), Err(KeyError::Damaged));
    assert_eq!(key.open(b"{\"json\":1}"), Err(KeyError::NotSealed));
    assert_eq!(key.open(&sealed[..10]), Err(KeyError::Damaged));
    assert_eq!(key.open(&key.seal(b"")).expect("empty"), b"");
}

#[test]
fn the_data_key_unwraps_only_with_the_unlock_key_that_wrapped_it() {
    let (data, kek) = (DataKey::generate(), UnlockKey::generate());
    let wrapped = kek.wrap(&data);
    let unwrapped = kek.unwrap(&wrapped).expect("unwraps");
    assert_eq!(unwrapped.open(&data.seal(b"x")).expect("same key"), b"x");
    assert!(matches!(
        UnlockKey::generate().unwrap(&wrapped),
        Err(KeyError::Wrong)
    ));
    // A value sealed with the data key cannot pass for a wrapped key (different AAD).
    assert!(matches!(
        UnlockKey::generate().unwrap(&data.seal(&[0; 32])),
        Err(KeyError::Wrong)
    ));
}

#[test]
fn an_unlock_key_round_trips_through_its_text_and_never_shows_in_debug() {
    let key = UnlockKey::generate();
    let text = key.to_text();
    assert!(text.starts_with("RECKEY-1-"), "{text}");
    assert_eq!(text.len(), "RECKEY-1-".len() + 43);
    assert_eq!(UnlockKey::parse(&format!("  {text}\n")), Ok(key.clone()));
    assert_eq!(format!("{key:?}"), "UnlockKey(…)");
    for bad in [
        "",
        "RECKEY-1-",
        "RECKEY-2-abc",
        &text[..text.len() - 1],
        "SWMKEY-1-x",
    ] {
        assert_eq!(UnlockKey::parse(bad), Err(KeyError::Malformed), "{bad:?}");
    }
}

#[test]
fn a_new_store_keeps_its_key_in_the_key_file_unless_autolocked() {
    let plan = plan(&found(false, None), &keys(false, None)).expect("plan");
    assert_eq!(plan.opens_with, None);
    let kept = plan.key_file.clone().expect("a key file");
    assert_eq!(plan.wrap_with, Some(kept));
    assert_eq!(plan.show, None);

    let plan = super::at_rest::plan(&found(false, None), &keys(true, None)).expect("plan");
    let shown = plan.show.clone().expect("shown once");
    assert_eq!(plan.wrap_with, Some(shown));
    assert_eq!(plan.key_file, None);
}

#[test]
fn a_restart_opens_with_the_key_file_or_is_locked_without_one() {
    let kek = UnlockKey::generate();
    let plan = plan(&found(true, Some(&kek)), &keys(false, None)).expect("plan");
    assert_eq!(
        plan,
        KeyPlan {
            opens_with: Some(kek.clone()),
            wrap_with: None,
            key_file: Some(kek.clone()),
            show: None,
        }
    );
    assert_eq!(
        super::at_rest::plan(&found(true, None), &keys(true, None)),
        Err(Refused::Locked)
    );
    assert_eq!(
        super::at_rest::plan(&found(true, None), &keys(false, None)),
        Err(Refused::Locked),
        "turning autolock off still needs the key once"
    );
}

#[test]
fn a_supplied_key_unlocks_and_is_written_only_when_autolock_is_turned_off() {
    let kek = UnlockKey::generate();
    let locked = plan(&found(true, None), &keys(true, Some(&kek))).expect("plan");
    assert_eq!(
        locked,
        KeyPlan {
            opens_with: Some(kek.clone()),
            wrap_with: None,
            key_file: None,
            show: None,
        }
    );
    let off = super::at_rest::plan(&found(true, None), &keys(false, Some(&kek))).expect("plan");
    assert_eq!(off.key_file, Some(kek.clone()));
    assert_eq!(
        off.wrap_with, None,
        "the same key goes on wrapping the data key"
    );
}

#[test]
fn turning_autolock_on_replaces_the_key_that_was_on_disk() {
    let old = UnlockKey::generate();
    let plan = plan(&found(true, Some(&old)), &keys(true, None)).expect("plan");
    assert_eq!(plan.opens_with, Some(old.clone()));
    let new = plan.show.clone().expect("a new key, shown once");
    assert_ne!(new, old);
    assert_eq!(plan.wrap_with, Some(new));
    assert_eq!(plan.key_file, None);
}
