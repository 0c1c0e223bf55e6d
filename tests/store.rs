//! The stores through the library: what both promise, and what the sled store promises on disk
//! (reopen, recovery, locking, tamper evidence).

use std::path::Path;
use std::time::Duration;

use partner_ledger::event::{
    parse_date, parse_instant, Account, Body, Event, MergeData, StoredEvent, ZERO_HASH,
};
use partner_ledger::store::memory::MemoryStore;
use partner_ledger::store::sled_store::{raw, SledStore};
use partner_ledger::store::{Head, Store, StoreError};
use uuid::Uuid;

fn account(name: &str) -> Account {
    Account::parse(name).unwrap()
}

fn event(name: &str, body: Body) -> Event {
    Event {
        id: Uuid::new_v4(),
        account: account(name),
        date: parse_date("2024-01-01").unwrap(),
        recorded_at: parse_instant("2024-01-01T10:00:00Z").unwrap(),
        body,
    }
}

fn verified(name: &str) -> Event {
    event(name, Body::BusinessProfileVerified)
}

/// Seals events on top of the store's head (as the ledger layer does) and commits them.
fn append(store: &dyn Store, events: Vec<Event>) -> Result<Head, StoreError> {
    let mut batch = store.begin()?;
    for e in seal_all(store, events) {
        batch.push(e)?;
    }
    batch.commit()
}

fn seal_all(store: &dyn Store, events: Vec<Event>) -> Vec<StoredEvent> {
    let head = store.head().unwrap();
    let mut versions = std::collections::HashMap::new();
    let (mut seq, mut prev) = (head.seq, head.hash);
    events
        .into_iter()
        .map(|e| {
            let v = versions
                .entry(e.account.clone())
                .or_insert_with(|| store.account_version(&e.account).unwrap());
            *v += 1;
            seq += 1;
            let s = StoredEvent::seal(seq, *v, e, prev);
            prev = s.hash;
            s
        })
        .collect()
}

fn all_events(store: &dyn Store) -> Vec<StoredEvent> {
    let mut out = Vec::new();
    store
        .scan(1, &mut |e| {
            out.push(e);
            true
        })
        .unwrap();
    out
}

/// The seqs of what `account_events` gives for `name`.
fn seqs_of(store: &dyn Store, name: &str) -> Vec<u64> {
    store
        .account_events(&account(name))
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

fn verify_clean(store: &dyn Store) {
    let report = store.verify(&mut |_, _| {}).unwrap();
    assert_eq!(report.first_bad, None);
    assert_eq!(report.events, store.head().unwrap().seq);
}

fn open(path: &Path) -> SledStore {
    SledStore::open_with_lock_wait(path, Duration::from_millis(200)).unwrap()
}

/// Runs a check against a memory store and a fresh sled store.
fn both(check: impl Fn(&dyn Store)) {
    check(&MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    check(&open(&dir.path().join("db")));
}

/// A small deterministic PRNG (xorshift64*), so that failures reproduce from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ------------------------------------------------------------------------------------------------
// Both stores

#[test]
fn append_and_read_back() {
    both(|store| {
        assert_eq!(store.head().unwrap(), Head::EMPTY);
        let events = vec![
            verified("contoso"),
            verified("fabrikam"),
            verified("contoso"),
        ];
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let head = append(store, events).unwrap();
        assert_eq!(head.seq, 3);
        assert_eq!(store.head().unwrap(), head);
        let stored = all_events(store);
        assert_eq!(
            stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(stored[0].prev_hash, ZERO_HASH);
        assert_eq!(stored[2].hash, head.hash);
        assert_eq!(store.get_by_id(&ids[1]).unwrap().unwrap().seq, 2);
        assert!(store.get_by_id(&Uuid::new_v4()).unwrap().is_none());
        assert_eq!(
            store.accounts().unwrap(),
            vec![account("contoso"), account("fabrikam")]
        );
        let mut from_two = Vec::new();
        store
            .scan(2, &mut |e| {
                from_two.push(e.seq);
                false
            })
            .unwrap();
        assert_eq!(
            from_two,
            vec![2],
            "scan starts at from_seq and stops when asked"
        );
        verify_clean(store);
    });
}

#[test]
fn seq_is_gapless_and_versions_count_per_account() {
    both(|store| {
        for round in 0..5 {
            let events = (0..7)
                .map(|i| verified(&format!("acct{}", (i + round) % 3)))
                .collect();
            append(store, events).unwrap();
        }
        let stored = all_events(store);
        assert_eq!(stored.len(), 35);
        for (i, e) in stored.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1);
        }
        for name in ["acct0", "acct1", "acct2"] {
            let own = store.account_events(&account(name)).unwrap();
            let versions: Vec<u64> = own.iter().map(|e| e.version).collect();
            assert_eq!(versions, (1..=own.len() as u64).collect::<Vec<_>>());
            assert_eq!(
                store.account_version(&account(name)).unwrap(),
                own.len() as u64
            );
        }
        assert_eq!(store.account_version(&account("nobody")).unwrap(), 0);
        verify_clean(store);
    });
}

#[test]
fn push_rejects_events_that_do_not_continue_the_log() {
    both(|store| {
        append(store, vec![verified("contoso")]).unwrap();
        let good = seal_all(store, vec![verified("contoso")]).remove(0);
        let head = store.head().unwrap();
        let wrong_seq = StoredEvent::seal(5, 2, good.event.clone(), head.hash);
        let wrong_version = StoredEvent::seal(2, 1, good.event.clone(), head.hash);
        let wrong_prev = StoredEvent::seal(2, 2, good.event.clone(), ZERO_HASH);
        let mut wrong_hash = good.clone();
        wrong_hash.hash[0] ^= 1;
        for bad in [wrong_seq, wrong_version, wrong_prev, wrong_hash] {
            let mut batch = store.begin().unwrap();
            assert!(matches!(batch.push(bad), Err(StoreError::Sequence(_))));
        }
        let mut batch = store.begin().unwrap();
        batch.push(good).unwrap();
        assert_eq!(batch.commit().unwrap().seq, 2);
        verify_clean(store);
    });
}

#[test]
fn an_id_already_stored_is_rejected_and_nothing_is_written() {
    both(|store| {
        let first = verified("contoso");
        let mut again = verified("contoso");
        again.id = first.id;
        append(store, vec![first]).unwrap();
        let before = store.head().unwrap();
        assert!(matches!(
            append(store, vec![verified("x"), again]),
            Err(StoreError::Sequence(_))
        ));
        assert_eq!(store.head().unwrap(), before);
        append(store, vec![verified("contoso")]).unwrap();
        verify_clean(store);
    });
}

#[test]
fn a_batch_dropped_without_commit_leaves_nothing() {
    both(|store| {
        append(store, vec![verified("contoso")]).unwrap();
        let before = store.head().unwrap();
        {
            let mut batch = store.begin().unwrap();
            for e in seal_all(
                store,
                (0..2500)
                    .map(|i| verified(&format!("a{}", i % 7)))
                    .collect(),
            ) {
                batch.push(e).unwrap();
            }
        }
        assert_eq!(store.head().unwrap(), before);
        assert_eq!(all_events(store).len(), 1);
        assert_eq!(store.accounts().unwrap(), vec![account("contoso")]);
        append(store, vec![verified("contoso")]).unwrap();
        verify_clean(store);
    });
}

#[test]
fn account_events_include_merges_that_absorbed_the_account() {
    both(|store| {
        let merge = event(
            "contoso",
            Body::AccountsMerged(MergeData {
                absorbed: account("fabrikam"),
            }),
        );
        append(
            store,
            vec![
                verified("fabrikam"),
                verified("contoso"),
                merge,
                verified("x"),
            ],
        )
        .unwrap();
        assert_eq!(seqs_of(store, "fabrikam"), vec![1, 3]);
        assert_eq!(seqs_of(store, "contoso"), vec![2, 3]);
        // The merge is contoso's own event, not fabrikam's.
        assert_eq!(store.account_version(&account("fabrikam")).unwrap(), 1);
        assert_eq!(store.account_version(&account("contoso")).unwrap(), 2);
        verify_clean(store);
    });
}

#[test]
fn a_batch_finds_what_it_staged_by_id_and_by_account() {
    both(|store| {
        append(store, vec![verified("fabrikam")]).unwrap();
        let stored_id = store.account_events(&account("fabrikam")).unwrap()[0]
            .event
            .id;
        // Enough events for the sled batch's id table to grow several times.
        let mut events: Vec<Event> = (0..3000)
            .map(|i| verified(["contoso", "northwind", "x"][i % 3]))
            .collect();
        events.push(event(
            "contoso",
            Body::AccountsMerged(MergeData {
                absorbed: account("fabrikam"),
            }),
        ));
        events.push(verified("fabrikam"));
        let sealed = seal_all(store, events);
        let mut batch = store.begin().unwrap();
        for e in &sealed {
            batch.push(e.clone()).unwrap();
        }
        for e in &sealed {
            assert_eq!(batch.staged_id(&e.event.id), Some(e.seq), "seq {}", e.seq);
            assert_eq!(batch.staged(e.seq).unwrap().as_ref(), Some(e));
        }
        // Stored, not staged; never seen; sharing an id's last 8 bytes.
        assert_eq!(batch.staged_id(&stored_id), None);
        assert_eq!(batch.staged_id(&Uuid::new_v4()), None);
        let mut near = *sealed[0].event.id.as_bytes();
        near[0] ^= 1;
        assert_eq!(batch.staged_id(&Uuid::from_bytes(near)), None);
        let concerning = |name: &str| -> Vec<u64> {
            sealed
                .iter()
                .filter(|e| {
                    e.event.account.as_str() == name
                        || matches!(&e.event.body, Body::AccountsMerged(m)
                            if m.absorbed.as_str() == name)
                })
                .map(|e| e.seq)
                .collect()
        };
        for name in ["contoso", "northwind", "x", "fabrikam", "nobody"] {
            assert_eq!(batch.staged_for(&account(name)), concerning(name), "{name}");
        }
        assert_eq!(batch.staged_for(&account("fabrikam")).len(), 2);
        batch.commit().unwrap();
        verify_clean(store);
    });
}

#[test]
fn head_recorded_at_is_the_latest() {
    both(|store| {
        let mut late = verified("a");
        late.recorded_at = parse_instant("2024-05-01T00:00:00.123456Z").unwrap();
        let early = verified("a");
        let head = append(store, vec![late.clone(), early]).unwrap();
        assert_eq!(head.recorded_at, Some(late.recorded_at));
    });
}

// ------------------------------------------------------------------------------------------------
// sled: reopen, recovery, locking

#[test]
fn sled_keeps_everything_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let events: Vec<Event> = (0..50).map(|i| verified(&format!("a{}", i % 4))).collect();
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let head = {
        let store = open(&path);
        append(&store, events).unwrap()
    };
    let store = open(&path);
    assert_eq!(store.head().unwrap(), head);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(store.get_by_id(id).unwrap().unwrap().seq, i as u64 + 1);
    }
    assert_eq!(store.account_version(&account("a1")).unwrap(), 13);
    append(&store, vec![verified("a1")]).unwrap();
    verify_clean(&store);
}

#[test]
fn sled_handle_opened_for_reading_answers_the_same_and_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let head = {
        let store = open(&path);
        append(
            &store,
            (0..30).map(|i| verified(&format!("a{}", i % 3))).collect(),
        )
        .unwrap()
    };
    let expected = {
        let store = open(&path);
        all_events(&store)
    };
    {
        let reader = SledStore::open_for_reading(&path).unwrap();
        assert_eq!(reader.head().unwrap(), head);
        assert_eq!(all_events(&reader), expected);
        assert_eq!(reader.account_version(&account("a1")).unwrap(), 10);
        verify_clean(&reader);
        let refused = reader
            .begin()
            .err()
            .expect("a reading handle must not append");
        assert!(
            refused.to_string().contains("opened for reading"),
            "{refused}"
        );
    }
    // Dropped normally, the reading handle left the store as it was, ready for appends.
    let store = open(&path);
    assert_eq!(all_events(&store), expected);
    append(&store, vec![verified("a1")]).unwrap();
    verify_clean(&store);
    drop(store);
    // A handle opened for one bulk append (a smaller cache) appends like any other.
    let appender = SledStore::open_for_appending(&path).unwrap();
    append(&appender, (0..50).map(|_| verified("a2")).collect()).unwrap();
    assert_eq!(appender.account_version(&account("a2")).unwrap(), 60);
    verify_clean(&appender);
}

#[test]
fn sled_dropped_batch_is_gone_after_reopen_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = open(&path);
        append(&store, vec![verified("a")]).unwrap();
        let mut batch = store.begin().unwrap();
        for e in seal_all(&store, (0..3000).map(|_| verified("b")).collect()) {
            batch.push(e).unwrap();
        }
        drop(batch);
    }
    let store = open(&path);
    assert_eq!(store.head().unwrap().seq, 1);
    assert_eq!(store.account_version(&account("b")).unwrap(), 0);
    verify_clean(&store);
}

#[test]
fn sled_large_batch_across_chunks_commits_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = open(&path);
    append(&store, vec![verified("first")]).unwrap();
    let events: Vec<Event> = (0..25_000)
        .map(|i| verified(&format!("a{}", i % 100)))
        .collect();
    let last_id = events[24_999].id;
    let mut batch = store.begin().unwrap();
    for e in seal_all(&store, events) {
        batch.push(e).unwrap();
    }
    // Chunks are on disk by now, yet readers still see the old head.
    assert_eq!(store.head().unwrap().seq, 1);
    assert!(store.get_by_id(&last_id).unwrap().is_none());
    assert_eq!(batch.commit().unwrap().seq, 25_001);
    assert_eq!(store.get_by_id(&last_id).unwrap().unwrap().seq, 25_001);
    drop(store);
    let store = open(&path);
    assert_eq!(store.head().unwrap().seq, 25_001);
    assert_eq!(store.account_events(&account("a7")).unwrap().len(), 250);
    verify_clean(&store);
}

/// Leftover blocks of an uncommitted batch (as a crash would leave them) are removed on open.
#[test]
fn sled_recovery_removes_blocks_beyond_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = open(&path);
        append(&store, vec![verified("a"), verified("b")]).unwrap();
        let stray = seal_all(&store, vec![verified("c")]).remove(0);
        let tree = store.raw_db().open_tree(raw::EVENTS_TREE).unwrap();
        let value = raw::encode_block(&[stray.to_line().into_bytes()]);
        tree.insert(3u64.to_be_bytes(), value).unwrap();
        store.raw_db().flush().unwrap();
        assert!(store.verify(&mut |_, _| {}).unwrap().first_bad.is_some());
    }
    let store = open(&path);
    assert_eq!(store.head().unwrap().seq, 2);
    verify_clean(&store);
    assert_eq!(append(&store, vec![verified("c")]).unwrap().seq, 3);
    verify_clean(&store);
}

/// Each account's events as `account_events` gives them, less their hashes (which that answer
/// does not include: the sled store's copies leave them to the log).
fn streams_of(store: &dyn Store, names: &[String]) -> Vec<Vec<StoredEvent>> {
    names
        .iter()
        .map(|n| {
            let mut events = store.account_events(&account(n)).unwrap();
            for e in &mut events {
                (e.prev_hash, e.hash) = (ZERO_HASH, ZERO_HASH);
            }
            events
        })
        .collect()
}

#[test]
fn sled_stream_copies_spilled_to_scratch_files_equal_the_memory_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let sled = open(&path);
    // A tiny threshold: every append of more than a few lines goes through the spill files.
    sled.set_stream_spill_bytes(2_000);
    let memory = MemoryStore::new();
    let names: Vec<String> = (0..40).map(|i| format!("acct-{i:02}")).collect();
    let mut rng = Rng(7);
    for round in 0..4 {
        let mut events = Vec::new();
        for _ in 0..150 {
            let who = &names[rng.below(names.len() as u64) as usize];
            if rng.below(10) == 0 {
                let other = &names[rng.below(names.len() as u64) as usize];
                events.push(event(
                    who,
                    Body::AccountsMerged(MergeData {
                        absorbed: account(other),
                    }),
                ));
            } else {
                events.push(verified(who));
            }
        }
        // Accounts never seen before arrive in later rounds too.
        events.push(verified(&format!("late-{round}")));
        let sealed = seal_all(&memory, events);
        for store in [&sled as &dyn Store, &memory] {
            let mut batch = store.begin().unwrap();
            for e in sealed.clone() {
                batch.push(e).unwrap();
            }
            batch.commit().unwrap();
        }
    }
    let mut all = names.clone();
    all.extend((0..4).map(|r| format!("late-{r}")));
    assert_eq!(streams_of(&sled, &all), streams_of(&memory, &all));
    verify_clean(&sled);
    assert!(
        !path.join("partner-ledger-spill").exists(),
        "scratch files are removed after the append"
    );

    // Recovery rebuilds the streams of an interrupted index update through the same spill.
    let index = sled.raw_db().open_tree("index").unwrap();
    index.insert(b"m", &0u64.to_be_bytes()).unwrap();
    let streams = sled.raw_db().open_tree("streams").unwrap();
    streams.clear().unwrap();
    sled.raw_db().flush().unwrap();
    drop(sled.begin().unwrap()); // begin settles the disk first
    assert_eq!(streams_of(&sled, &all), streams_of(&memory, &all));
    verify_clean(&sled);
}

#[test]
fn sled_opens_a_format_1_store_and_marks_it_format_4() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let lines = {
        let store = open(&path);
        append(&store, vec![verified("a"), verified("b")]).unwrap();
        // Format 1 stored blocks unpacked: write one back that way, and the old marker.
        let events = store.raw_db().open_tree(raw::EVENTS_TREE).unwrap();
        let (key, value) = events.iter().next().unwrap().unwrap();
        let lines = raw::decode_block(&value).unwrap();
        events.insert(key, raw::encode_block(&lines)).unwrap();
        set_format(&store, b"partner-ledger/1");
        lines
    };
    let store = open(&path);
    assert_eq!(format_of(&store), b"partner-ledger/4");
    let back: Vec<Vec<u8>> = all_events(&store)
        .iter()
        .map(|e| e.to_line().into_bytes())
        .collect();
    assert_eq!(back, lines);
    verify_clean(&store);
}

/// A format-3 store packed its copies with zstd. Its chunks are read and checked as they are;
/// an account's last chunk, once extended, is written with LZ4 like every new chunk.
#[test]
fn sled_reads_format_3_copies_packed_with_zstd_and_packs_extended_ones_with_lz4() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 10);
    let names = filled_names();
    let packing = |store: &SledStore, name: &str| -> Vec<u8> {
        let streams = store.raw_db().open_tree("streams").unwrap();
        streams
            .scan_prefix(format!("{name}\0").as_bytes())
            .map(|kv| kv.unwrap().1[8])
            .collect()
    };
    let expected = {
        let store = open(&path);
        assert!(packing(&store, "acct3")
            .iter()
            .all(|&p| p == raw::PACKED_LZ4));
        let streams = store.raw_db().open_tree("streams").unwrap();
        for kv in streams.iter() {
            let (key, value) = kv.unwrap();
            let lines = raw::decode_block(&value[8..]).unwrap();
            put_copy_block(&store, &key, &value, raw::encode_zstd_block(&lines));
        }
        set_format(&store, b"partner-ledger/3");
        streams_of(&store, &names)
    };

    let store = open(&path);
    assert_eq!(format_of(&store), b"partner-ledger/4");
    assert!(packing(&store, "acct3")
        .iter()
        .all(|&p| p == raw::PACKED_ZSTD));
    assert_eq!(streams_of(&store, &names), expected);
    verify_clean(&store);
    let first = seqs_of(&store, "acct3")[0];
    drop(store);

    // A changed line in a zstd chunk is named.
    let (seq, message) = damaged(&path, |store| {
        let (key, value) = first_copy_chunk(store, "acct3");
        let mut lines = raw::decode_block(&value[8..]).unwrap();
        change_date_under_hash(&mut lines[0]);
        put_copy_block(store, &key, &value, raw::encode_zstd_block(&lines));
    });
    assert_eq!(seq, first, "{message}");
    assert!(message.contains("stream copy of acct3"), "{message}");

    let store = open(&path);
    append(&store, vec![verified("acct3"), verified("acct3")]).unwrap();
    let acct3 = packing(&store, "acct3");
    assert_eq!(acct3.last(), Some(&raw::PACKED_LZ4), "the extended chunk");
    assert!(
        acct3[..acct3.len() - 1]
            .iter()
            .all(|&p| p == raw::PACKED_ZSTD),
        "full chunks before it are left as they are: {acct3:?}"
    );
    assert!(packing(&store, "acct4")
        .iter()
        .all(|&p| p == raw::PACKED_ZSTD));
    let now = streams_of(&store, &names);
    let before = expected[3].len();
    assert_eq!(now[3].len(), before + 2);
    assert_eq!(now[3][..before], expected[3][..], "the lines read before");
    assert_eq!(now[4], expected[4]);
    verify_clean(&store);
}

/// A format-2 store kept its copies' lines with their hash members. Such lines are read as
/// they are and checked by their own hashes (a changed body or a changed hash member is named);
/// an account's last chunk, once extended, is rewritten whole in the copy form.
#[test]
fn sled_reads_format_2_copies_with_hashes_and_rewrites_them_in_the_copy_form() {
    use partner_ledger::line::LineView;
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 10);
    let names = filled_names();
    let expected = {
        let store = open(&path);
        let log: std::collections::HashMap<u64, Vec<u8>> = all_events(&store)
            .iter()
            .map(|e| (e.seq, e.to_line().into_bytes()))
            .collect();
        let streams = store.raw_db().open_tree("streams").unwrap();
        for kv in streams.iter() {
            let (key, value) = kv.unwrap();
            let copy = raw::decode_block(&value[8..]).unwrap();
            assert!(
                copy.iter().all(|l| LineView::parse(l).is_none()),
                "copy form"
            );
            let sealed: Vec<Vec<u8>> = copy
                .iter()
                .map(|l| log[&LineView::parse_copy(l).unwrap().seq].clone())
                .collect();
            put_copy_chunk(&store, &key, &value, &sealed);
        }
        set_format(&store, b"partner-ledger/2");
        streams_of(&store, &names)
    };

    let store = open(&path);
    assert_eq!(format_of(&store), b"partner-ledger/4");
    assert_eq!(streams_of(&store, &names), expected);
    verify_clean(&store);
    let chunks = |store: &SledStore, name: &str| -> Vec<Vec<Vec<u8>>> {
        let streams = store.raw_db().open_tree("streams").unwrap();
        streams
            .scan_prefix(format!("{name}\0").as_bytes())
            .map(|kv| raw::decode_block(&kv.unwrap().1[8..]).unwrap())
            .collect()
    };
    let old = chunks(&store, "acct3");
    let first = LineView::parse(&old[0][0])
        .expect("a line with its hashes")
        .seq;
    drop(store);

    // A changed body, and a right body under a changed hash member, are named.
    let (seq, message) = damaged(&path, |store| {
        rewrite_first_copy_chunk(store, "acct3", |lines| {
            change_date_under_hash(&mut lines[0])
        });
    });
    assert_eq!(seq, first, "{message}");
    assert!(message.contains("stream copy of acct3"), "{message}");
    let (seq, message) = damaged(&path, |store| {
        rewrite_first_copy_chunk(store, "acct3", |lines| {
            let text = String::from_utf8(lines[0].clone()).unwrap();
            let view = LineView::parse(text.as_bytes()).unwrap();
            let hash = std::str::from_utf8(view.hash_hex).unwrap().to_string();
            let other: String = hash.chars().rev().collect();
            lines[0] = text.replace(&hash, &other).into_bytes();
        });
    });
    assert_eq!(seq, first, "{message}");
    assert!(message.contains("stream copy of acct3"), "{message}");

    let store = open(&path);
    append(&store, vec![verified("acct3"), verified("acct3")]).unwrap();
    let new = chunks(&store, "acct3");
    let last = new.last().unwrap();
    assert!(
        last.iter().all(|l| LineView::parse(l).is_none()),
        "the extended chunk is all in the copy form"
    );
    assert_eq!(
        new.iter().map(Vec::len).sum::<usize>(),
        old.iter().map(Vec::len).sum::<usize>() + 2
    );
    assert!(
        chunks(&store, "acct4")[0]
            .iter()
            .all(|l| LineView::parse(l).is_some()),
        "an account not appended to keeps its lines with their hashes"
    );
    assert_eq!(
        store.account_events(&account("acct3")).unwrap().len(),
        expected[3].len() + 2
    );
    verify_clean(&store);
}

#[test]
fn sled_recovery_finishes_an_interrupted_index_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let merge = event(
        "a",
        Body::AccountsMerged(MergeData {
            absorbed: account("b"),
        }),
    );
    let late = verified("b");
    let late_id = late.id;
    {
        let store = open(&path);
        append(&store, vec![verified("a"), verified("b")]).unwrap();
        append(&store, vec![merge, late]).unwrap();
        // Put the marker back to 2, as if the crash came right after the head was written;
        // the index data of 3..4 may or may not be there (here: it is; redo must be harmless).
        let index = store.raw_db().open_tree("index").unwrap();
        index.insert(b"m", &2u64.to_be_bytes()).unwrap();
        store.raw_db().flush().unwrap();
        assert!(store.verify(&mut |_, _| {}).unwrap().first_bad.is_some());
    }
    let store = open(&path);
    verify_clean(&store);
    assert_eq!(store.get_by_id(&late_id).unwrap().unwrap().seq, 4);
    assert_eq!(seqs_of(&store, "b"), vec![2, 3, 4]);
}

#[test]
fn a_second_opener_of_the_same_path_gets_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = open(&path);
    let started = std::time::Instant::now();
    match SledStore::open_with_lock_wait(&path, Duration::from_millis(300)) {
        Err(StoreError::Locked { waited_ms, .. }) => assert!(waited_ms >= 300),
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("a second open of a held store must fail"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(first);
    // Once the holder closes, the waiting opener gets in.
    open(&path);
}

#[test]
fn a_waiting_opener_gets_in_when_the_holder_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let first = open(&path);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
    });
    let second = SledStore::open_with_lock_wait(&path, Duration::from_secs(10));
    releaser.join().unwrap();
    assert!(second.is_ok());
}

#[test]
fn concurrent_appenders_serialise() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("db"));
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &store;
            s.spawn(move || {
                for _ in 0..10 {
                    // Sealing reads the head, so it happens under the writer lock in a real
                    // ledger; here each thread seals inside its own batch.
                    let mut batch = store.begin().unwrap();
                    let head = store.head().unwrap();
                    let name = format!("t{t}");
                    let v = store.account_version(&account(&name)).unwrap();
                    let e = StoredEvent::seal(head.seq + 1, v + 1, verified(&name), head.hash);
                    batch.push(e).unwrap();
                    batch.commit().unwrap();
                }
            });
        }
    });
    assert_eq!(store.head().unwrap().seq, 40);
    verify_clean(&store);
}

// ------------------------------------------------------------------------------------------------
// sled: tamper evidence, through the engine

/// A store of `batches` commits of a few events each (so several blocks), closed and returned
/// as its path.
fn filled_store(dir: &Path, batches: usize) -> std::path::PathBuf {
    let path = dir.join("db");
    let store = open(&path);
    for b in 0..batches {
        let events = (0..(1 + b % 30))
            .map(|i| verified(&format!("acct{}", (b + i) % 9)))
            .collect();
        append(&store, events).unwrap();
    }
    path
}

/// The accounts `filled_store` appends to.
fn filled_names() -> Vec<String> {
    (0..9).map(|i| format!("acct{i}")).collect()
}

/// All blocks as (first seq, lines).
fn blocks(store: &SledStore) -> Vec<(u64, Vec<Vec<u8>>)> {
    let tree = store.raw_db().open_tree(raw::EVENTS_TREE).unwrap();
    tree.iter()
        .map(|kv| {
            let (k, v) = kv.unwrap();
            let first = u64::from_be_bytes(k.as_ref().try_into().unwrap());
            (first, raw::decode_block(&v).unwrap())
        })
        .collect()
}

fn put_block(store: &SledStore, first: u64, lines: &[Vec<u8>]) {
    let tree = store.raw_db().open_tree(raw::EVENTS_TREE).unwrap();
    tree.insert(first.to_be_bytes(), raw::encode_block(lines))
        .unwrap();
}

/// (block index, line index) of a seq.
fn locate(blocks: &[(u64, Vec<Vec<u8>>)], seq: u64) -> (usize, usize) {
    let b = blocks.iter().rposition(|(first, _)| *first <= seq).unwrap();
    (b, (seq - blocks[b].0) as usize)
}

/// Swaps the stored lines of seqs `x` and `y` (in `all`, the store's blocks, and in the store).
fn swap_lines(store: &SledStore, all: &mut [(u64, Vec<Vec<u8>>)], x: u64, y: u64) {
    let (bx, ix) = locate(all, x);
    let (by, iy) = locate(all, y);
    let line_x = all[bx].1[ix].clone();
    let line_y = std::mem::replace(&mut all[by].1[iy], line_x);
    all[bx].1[ix] = line_y;
    put_block(store, all[bx].0, &all[bx].1);
    put_block(store, all[by].0, &all[by].1);
}

fn first_bad(store: &SledStore) -> u64 {
    let report = store.verify(&mut |_, _| {}).unwrap();
    report.first_bad.expect("verify must find the damage").0
}

#[test]
fn verify_names_a_flipped_byte_inside_a_stored_event() {
    let mut rng = Rng(0x5eed_0001);
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 40);
    for _ in 0..25 {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(&path, &copy.path().join("db"));
        let store = open(&copy.path().join("db"));
        let head = store.head().unwrap().seq;
        let seq = 1 + rng.below(head);
        let all = blocks(&store);
        let (b, i) = locate(&all, seq);
        let mut lines = all[b].1.clone();
        let at = rng.below(lines[i].len() as u64) as usize;
        lines[i][at] ^= 1 << rng.below(8);
        put_block(&store, all[b].0, &lines);
        assert_eq!(first_bad(&store), seq, "flipped byte {at} of seq {seq}");
    }
}

#[test]
fn verify_names_a_removed_event() {
    let mut rng = Rng(0x5eed_0002);
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 40);
    for _ in 0..15 {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(&path, &copy.path().join("db"));
        let store = open(&copy.path().join("db"));
        let head = store.head().unwrap().seq;
        let seq = 1 + rng.below(head);
        let all = blocks(&store);
        let (b, i) = locate(&all, seq);
        let mut lines = all[b].1.clone();
        lines.remove(i);
        let tree = store.raw_db().open_tree(raw::EVENTS_TREE).unwrap();
        if lines.is_empty() {
            tree.remove(all[b].0.to_be_bytes()).unwrap();
        } else {
            put_block(&store, all[b].0, &lines);
        }
        assert_eq!(first_bad(&store), seq, "removed seq {seq}");
    }
}

#[test]
fn verify_names_two_swapped_events() {
    let mut rng = Rng(0x5eed_0003);
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 40);
    for _ in 0..15 {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(&path, &copy.path().join("db"));
        let store = open(&copy.path().join("db"));
        let head = store.head().unwrap().seq;
        let x = 1 + rng.below(head);
        let y = loop {
            let y = 1 + rng.below(head);
            if y != x {
                break y;
            }
        };
        let mut all = blocks(&store);
        swap_lines(&store, &mut all, x, y);
        assert_eq!(first_bad(&store), x.min(y), "swapped {x} and {y}");
    }
}

/// What `log` exports: the stored lines as they are, from any seq; and a damaged line is an
/// error at its seq after the lines before it, never exported (a byte flipped anywhere in it,
/// or two lines swapped).
#[test]
fn sealed_lines_are_the_stored_bytes_and_a_damaged_line_stops_them_at_its_seq() {
    let mut rng = Rng(0x5eed_0004);
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 40);
    let stored: Vec<Vec<u8>> = {
        let store = open(&path);
        blocks(&store)
            .into_iter()
            .flat_map(|(_, lines)| lines)
            .collect()
    };
    let sealed = |store: &SledStore, from: u64| {
        let mut seen = Vec::new();
        let result = store.scan_sealed_lines(from, &mut |line| {
            seen.push(line.to_vec());
            true
        });
        (seen, result)
    };
    {
        let store = open(&path);
        for from in [0, 1, 2, 17, stored.len() as u64, stored.len() as u64 + 1] {
            let (seen, result) = sealed(&store, from);
            result.unwrap();
            let skip = (from.max(1) - 1) as usize;
            assert_eq!(seen, stored[skip.min(stored.len())..], "from {from}");
        }
    }
    for round in 0..30 {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(&path, &copy.path().join("db"));
        let store = open(&copy.path().join("db"));
        let head = store.head().unwrap().seq;
        let mut all = blocks(&store);
        let bad = if round % 3 == 0 {
            let (x, y) = (1 + rng.below(head), 1 + rng.below(head));
            if x == y {
                continue;
            }
            swap_lines(&store, &mut all, x, y);
            x.min(y)
        } else {
            let seq = 1 + rng.below(head);
            let (b, i) = locate(&all, seq);
            let at = rng.below(all[b].1[i].len() as u64) as usize;
            all[b].1[i][at] ^= 1 << rng.below(8);
            put_block(&store, all[b].0, &all[b].1);
            seq
        };
        let (seen, result) = sealed(&store, 1);
        match result {
            Err(StoreError::Corrupt { seq, .. }) => assert_eq!(seq, bad, "round {round}"),
            other => panic!("round {round}: damage at {bad} gave {other:?}"),
        }
        assert_eq!(seen, stored[..(bad - 1) as usize], "round {round}");
    }
}

#[test]
fn verify_finds_a_damaged_index_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 10);
    let store = open(&path);
    let index = store.raw_db().open_tree("index").unwrap();
    let key: Vec<u8> = [b"a".as_slice(), b"acct3"].concat();
    let list = index.get(&key).unwrap().unwrap();
    let mut damaged = list.to_vec();
    damaged.truncate(damaged.len() - 8);
    let dropped = u64::from_be_bytes(list[list.len() - 8..].try_into().unwrap());
    index.insert(&key, damaged).unwrap();
    let report = store.verify(&mut |_, _| {}).unwrap();
    assert_eq!(report.first_bad.map(|b| b.0), Some(dropped));
}

#[test]
fn verify_finds_a_damaged_stream_copy_and_queries_read_the_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 10);
    let store = open(&path);
    let account = partner_ledger::event::Account::parse("acct3").unwrap();
    let expected = store.account_events(&account).unwrap();
    assert!(
        !expected.is_empty(),
        "the stream copy serves the account's events"
    );
    let streams = store.raw_db().open_tree("streams").unwrap();
    let (key, value) = streams.scan_prefix(b"acct3\0").next().unwrap().unwrap();
    let mut damaged = value.to_vec();
    let last = damaged.len() - 3;
    damaged[last] ^= 0x01;
    streams.insert(&key, damaged).unwrap();
    let report = store.verify(&mut |_, _| {}).unwrap();
    let (seq, message) = report.first_bad.expect("a damaged stream copy is found");
    assert_eq!(seq, expected[0].seq, "{message}");
    assert!(message.contains("stream copy of acct3"), "{message}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A forger with write access who re-seals a line in a non-canonical form (and fixes the head
/// and the stream copy to match) leaves a self-consistent chain: the default `verify` proves
/// every stored line is the one sealed, which this one is; `verify --deep` also re-encodes
/// every event and names it.
#[test]
fn verify_deep_names_a_resealed_line_that_is_not_canonical() {
    use partner_ledger::event::hex;
    use partner_ledger::line::LineView;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = open(&path);
    append(&store, vec![verified("a"), verified("b")]).unwrap();
    verify_clean(&store);

    let events = store.raw_db().open_tree(raw::EVENTS_TREE).unwrap();
    let (key, value) = events.iter().next().unwrap().unwrap();
    let mut lines = raw::decode_block(&value).unwrap();
    let last = String::from_utf8(lines[1].clone()).unwrap();
    let old_hash = hex(&store.head().unwrap().hash);
    let spaced = last.replace("\"data\":{}", "\"data\":{ }");
    assert_ne!(spaced, last);
    let new_hash = hex(&LineView::parse(spaced.as_bytes()).unwrap().body_hash());
    let forged = spaced.replace(&old_hash, &new_hash);
    lines[1] = forged.clone().into_bytes();
    events.insert(key, raw::encode_block(&lines)).unwrap();
    let streams = store.raw_db().open_tree("streams").unwrap();
    let mut copy = 2u64.to_be_bytes().to_vec();
    let copy_form = LineView::parse(forged.as_bytes())
        .unwrap()
        .body_parts()
        .concat();
    copy.extend(raw::encode_block(&[copy_form]));
    streams.insert(b"b\0\0\0\0\0", copy).unwrap();
    let meta = store.raw_db().open_tree("meta").unwrap();
    let mut head = meta.get(b"head").unwrap().unwrap().to_vec();
    head[8..40].copy_from_slice(&partner_ledger::event::parse_hex(new_hash.as_bytes()).unwrap());
    meta.insert(b"head", head).unwrap();
    drop((events, streams, meta));
    drop(store);

    let store = open(&path);
    verify_clean(&store);
    let deep = store.verify_deep(&mut |_, _| {}).unwrap();
    let (seq, problem) = deep.first_bad.unwrap();
    assert_eq!(seq, 2);
    assert!(problem.contains("canonical"), "{problem}");
}

/// A copy line moved to another seq within the head (its seq rewritten, so its body is no
/// longer the log's there) is named, in the account's copy.
#[test]
fn verify_names_a_copy_line_moved_to_another_seq() {
    use partner_ledger::line::LineView;
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 10);
    let store = open(&path);
    let own = seqs_of(&store, "acct3");
    let other = (1..=store.head().unwrap().seq)
        .find(|s| !own.contains(s))
        .unwrap();
    drop(store);
    let (_, message) = damaged(&path, |store| {
        rewrite_first_copy_chunk(store, "acct3", |lines| {
            let text = String::from_utf8(lines[0].clone()).unwrap();
            let seq = LineView::parse_copy(text.as_bytes()).unwrap().seq;
            lines[0] = text
                .replace(&format!("\"seq\":{seq},"), &format!("\"seq\":{other},"))
                .into_bytes();
        });
    });
    assert!(message.contains("stream copy of acct3"), "{message}");
}

/// A copy line whose content is changed: it no longer hashes (after the log's hash of the line
/// before it) to the log's hash of its seq, which the copy check (on its own thread) finds.
#[test]
fn verify_finds_a_copy_line_changed_under_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 10);
    let store = open(&path);
    let account = Account::parse("acct3").unwrap();
    let expected = store.account_events(&account).unwrap();
    rewrite_first_copy_chunk(&store, "acct3", |lines| {
        change_date_under_hash(&mut lines[0])
    });
    let report = store.verify(&mut |_, _| {}).unwrap();
    let (seq, message) = report.first_bad.expect("the changed copy line is found");
    assert_eq!(seq, expected[0].seq, "{message}");
    assert!(message.contains("stream copy of acct3"), "{message}");
}

/// A copy line that does not read as a stored line is damage, found after the lines before it
/// are checked (verify reads a chunk's envelopes, then the log's hashes at their seqs, then
/// checks the lines in order). The lines before it count as held: so with line 1 unreadable
/// the copy is named ("does not decode", at the account's first seq), where an unchecked line
/// 0 would have been named first as missing from every copy ("lacks event").
#[test]
fn verify_names_a_copy_line_that_does_not_read_after_the_lines_before_it() {
    use partner_ledger::line::LineView;
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 10);
    let (_, value) = first_copy_chunk(&open(&path), "acct3");
    let seqs: Vec<u64> = raw::decode_block(&value[8..])
        .unwrap()
        .iter()
        .map(|l| LineView::parse_copy(l).unwrap().seq)
        .collect();
    assert!(
        seqs.len() >= 3,
        "acct3's first chunk holds {} lines",
        seqs.len()
    );
    let unreadable = |line: &mut Vec<u8>| {
        line.pop(); // its closing brace
    };
    let (seq, message) = damaged(&path, |store| {
        rewrite_first_copy_chunk(store, "acct3", |lines| unreadable(&mut lines[1]));
    });
    assert_eq!(seq, seqs[0], "{message}");
    assert!(
        message.contains("stream copy of acct3 does not decode"),
        "{message}"
    );
    let (seq, message) = damaged(&path, |store| {
        rewrite_first_copy_chunk(store, "acct3", |lines| {
            change_date_under_hash(&mut lines[0]);
            unreadable(&mut lines[2]);
        });
    });
    assert_eq!(seq, seqs[0], "{message}");
    assert!(message.contains("stream copy of acct3"), "{message}");
}

/// `for_each_account_events` hands over exactly what `account_events` gives, in the order
/// asked, including accounts with nothing stored and accounts only absorbed by a merge.
#[test]
fn for_each_account_events_equals_account_events_one_by_one() {
    both(|store| {
        let merge = event(
            "m-absorber",
            Body::AccountsMerged(MergeData {
                absorbed: account("m-absorbed"),
            }),
        );
        let mut events: Vec<Event> = (0..60)
            .map(|i| verified(&format!("a{:02}", i % 17)))
            .collect();
        events.push(verified("m-absorbed"));
        events.push(verified("m-absorber"));
        events.push(merge);
        append(store, events).unwrap();
        let mut names: Vec<Account> = (0..17).map(|i| account(&format!("a{i:02}"))).collect();
        names.extend(["m-absorbed", "m-absorber", "never-seen", "zz-none"].map(account));
        names.insert(3, account("a025-none")); // sorts between stored accounts
        names.sort();
        for skip in [0, 5] {
            let asked = &names[skip..];
            let mut seen = Vec::new();
            store
                .for_each_account_events(asked, None, &mut |a, events| {
                    seen.push((a.clone(), events));
                    Ok(true)
                })
                .unwrap();
            let want: Vec<_> = asked
                .iter()
                .map(|a| (a.clone(), store.account_events(a).unwrap()))
                .collect();
            assert_eq!(seen, want);
        }
        // Stopping early stops.
        let mut count = 0;
        store
            .for_each_account_events(&names, None, &mut |_, _| {
                count += 1;
                Ok(count < 3)
            })
            .unwrap();
        assert_eq!(count, 3);
    });
}

/// A store large enough that `verify` splits the log into two halves and the copies into two
/// ranges of names: 6,000 events over 200 accounts, with merges.
fn large_store(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("db");
    let store = open(&path);
    for batch in 0..12 {
        let events = (0..500)
            .map(|i| {
                let n = batch * 500 + i;
                let name = format!("acct{:03}", (n * 7) % 200);
                if n % 97 == 0 {
                    let absorbed = account(&format!("gone{:03}", n % 200));
                    event(&name, Body::AccountsMerged(MergeData { absorbed }))
                } else {
                    verified(&name)
                }
            })
            .collect();
        append(&store, events).unwrap();
    }
    path
}

/// The first seq of the block that holds `seq`.
fn block_start(store: &SledStore, seq: u64) -> u64 {
    let all = blocks(store);
    all[locate(&all, seq).0].0
}

/// A fresh copy of the store at `path`, damaged by `damage`; returns verify's first problem.
fn damaged(path: &Path, damage: impl FnOnce(&SledStore)) -> (u64, String) {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(path, &copy.path().join("db"));
    let store = open(&copy.path().join("db"));
    damage(&store);
    let report = store.verify(&mut |_, _| {}).unwrap();
    report.first_bad.expect("verify must find the damage")
}

fn flip_line(store: &SledStore, seq: u64) {
    let all = blocks(store);
    let (b, i) = locate(&all, seq);
    let mut lines = all[b].1.clone();
    let at = lines[i].len() / 2;
    lines[i][at] ^= 0x04;
    put_block(store, all[b].0, &lines);
}

/// The key and value of the first copy chunk of `name`.
fn first_copy_chunk(store: &SledStore, name: &str) -> (sled::IVec, sled::IVec) {
    let streams = store.raw_db().open_tree("streams").unwrap();
    let prefix = format!("{name}\0");
    let first = streams.scan_prefix(prefix.as_bytes()).next();
    first.unwrap().unwrap()
}

/// Rewrites the first copy chunk of `name` (unpacked) with its lines as `change` leaves them.
fn rewrite_first_copy_chunk(store: &SledStore, name: &str, change: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let (key, value) = first_copy_chunk(store, name);
    let mut lines = raw::decode_block(&value[8..]).unwrap();
    change(&mut lines);
    put_copy_chunk(store, &key, &value, &lines);
}

/// Marks the store with another format, as an older program left it.
fn set_format(store: &SledStore, format: &[u8]) {
    let meta = store.raw_db().open_tree("meta").unwrap();
    meta.insert(b"format", format).unwrap();
    store.raw_db().flush().unwrap();
}

fn format_of(store: &SledStore) -> Vec<u8> {
    let meta = store.raw_db().open_tree("meta").unwrap();
    meta.get(b"format").unwrap().unwrap().to_vec()
}

/// Stores `lines` (unpacked) as the copy chunk at `key`, with the last-seq header of the
/// chunk's `old` value.
fn put_copy_chunk(store: &SledStore, key: &[u8], old: &[u8], lines: &[Vec<u8>]) {
    put_copy_block(store, key, old, raw::encode_block(lines));
}

/// Stores `block` (a block value) as the copy chunk at `key`, with the last-seq header of the
/// chunk's `old` value.
fn put_copy_block(store: &SledStore, key: &[u8], old: &[u8], block: Vec<u8>) {
    let mut copy = old[..8].to_vec();
    copy.extend(block);
    let streams = store.raw_db().open_tree("streams").unwrap();
    streams.insert(key, copy).unwrap();
}

/// Changes a stored line's date from 2024-01-01 to 2024-01-02, leaving its hash members as
/// they were.
fn change_date_under_hash(line: &mut Vec<u8>) {
    let text = String::from_utf8(line.clone()).unwrap();
    let changed = text.replace("\"date\":\"2024-01-01\"", "\"date\":\"2024-01-02\"");
    assert_ne!(changed, text);
    *line = changed.into_bytes();
}

/// Rewrites the copy chunk of `name` holding `seq` without that line.
fn drop_copy_line(store: &SledStore, name: &str, seq: u64) {
    use partner_ledger::line::LineView;
    let streams = store.raw_db().open_tree("streams").unwrap();
    for kv in streams.scan_prefix(format!("{name}\0").as_bytes()) {
        let (key, value) = kv.unwrap();
        let lines = raw::decode_block(&value[8..]).unwrap();
        let kept: Vec<Vec<u8>> = lines
            .iter()
            .filter(|l| LineView::parse_copy(l).unwrap().seq != seq)
            .cloned()
            .collect();
        if kept.len() < lines.len() {
            put_copy_chunk(store, &key, &value, &kept);
            return;
        }
    }
    panic!("no copy line {seq} under {name}");
}

/// verify checks the log in 64 runs that its two threads take in turn, each from the block
/// holding an event evenly spaced by seq; damage on either side of where runs meet, and a
/// block missing where one starts, is named at its seq.
#[test]
fn verify_names_the_first_damage_in_any_run_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = large_store(dir.path());
    let store = open(&path);
    verify_clean(&store);
    let head = store.head().unwrap().seq;
    // Where the second, the middle and the last run start.
    let starts: Vec<u64> = [1, 32, 63]
        .iter()
        .map(|i| block_start(&store, i * head / 64))
        .collect();
    assert!(starts
        .windows(2)
        .all(|w| 1 < w[0] && w[0] < w[1] && w[1] < head));
    drop(store);

    let mut seqs = vec![3, head - 2, head];
    for &start in &starts {
        seqs.extend([start - 1, start, start + 1]);
    }
    for seq in seqs {
        let (bad, message) = damaged(&path, |s| flip_line(s, seq));
        assert_eq!(
            bad, seq,
            "flipped seq {seq} (runs start at {starts:?}): {message}"
        );
    }
    for start in starts {
        let (bad, message) = damaged(&path, |s| {
            let events = s.raw_db().open_tree(raw::EVENTS_TREE).unwrap();
            events.remove(start.to_be_bytes()).unwrap();
        });
        assert_eq!(bad, start, "{message}");
        assert!(message.contains("missing"), "{message}");
    }
}

/// verify matches copy lines to the log by the seqs the account index lists, and reads each
/// line's envelope from the first that does not match on: an index listing another account's
/// event, or its own events out of order, is named where the list and the copy first differ
/// (at the lower seq of the two); a version out of step in a line the log holds likewise.
#[test]
fn verify_names_an_account_index_that_lists_other_events_than_the_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 10);
    let store = open(&path);
    let (mine, theirs) = (seqs_of(&store, "acct3"), seqs_of(&store, "acct4"));
    drop(store);
    let list_of = |seqs: &[u64]| -> Vec<u8> { seqs.iter().flat_map(|s| s.to_be_bytes()).collect() };
    let with_list = |seqs: Vec<u64>| {
        damaged(&path, move |s| {
            let index = s.raw_db().open_tree("index").unwrap();
            index.insert(b"aacct3", list_of(&seqs)).unwrap();
        })
    };

    let mut other = mine.clone();
    other[2] = theirs[1];
    let (bad, message) = with_list(other);
    assert_eq!(bad, mine[2].min(theirs[1]), "{message}");
    assert!(
        message.contains("account index of acct3 is wrong"),
        "{message}"
    );

    let mut swapped = mine.clone();
    swapped.swap(1, 2);
    let (bad, message) = with_list(swapped);
    assert_eq!(bad, mine[1], "{message}");
    assert!(
        message.contains("account index of acct3 is wrong"),
        "{message}"
    );

    // The whole list shifted by one: every line differs from the log at its listed seq.
    let (bad, message) = with_list(mine[1..].to_vec());
    assert_eq!(bad, mine[0], "{message}");
}

#[test]
fn verify_checks_copies_and_indexes_in_every_name_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = large_store(dir.path());
    let store = open(&path);
    // Accounts low, in the middle and high in name order (the copies are checked in ranges
    // of names that two threads take in turn), and an absorbed one.
    let names = ["acct003", "acct101", "acct196", "gone097"];
    let firsts: Vec<Vec<StoredEvent>> = names
        .iter()
        .map(|n| store.account_events(&account(n)).unwrap())
        .collect();
    drop(store);

    for (name, events) in names.iter().zip(&firsts) {
        // A byte changed in the copy: named at the account's first event.
        let (bad, message) = damaged(&path, |s| {
            let streams = s.raw_db().open_tree("streams").unwrap();
            let (key, value) = streams
                .scan_prefix(format!("{name}\0").as_bytes())
                .next()
                .unwrap()
                .unwrap();
            let mut lines = raw::decode_block(&value[8..]).unwrap();
            let text = String::from_utf8(lines[0].clone()).unwrap();
            lines[0] = text.replacen("2024-01-01", "2024-01-02", 1).into_bytes();
            let mut v = value[..8].to_vec();
            v.extend(raw::encode_block(&lines));
            streams.insert(key, v).unwrap();
        });
        assert_eq!(bad, events[0].seq, "{name}: {message}");
        assert!(
            message.contains(&format!("stream copy of {name}")),
            "{message}"
        );

        // A line missing from the copy: named at its seq.
        let gone = events[events.len() / 2].seq;
        let (bad, message) = damaged(&path, |s| drop_copy_line(s, name, gone));
        assert_eq!(bad, gone, "{name}: {message}");
        assert!(
            message.contains(&format!("stream copy of {name} lacks event {gone}")),
            "{message}"
        );

        // The account index without its last entry: named at that entry.
        let (bad, message) = damaged(&path, |s| {
            let index = s.raw_db().open_tree("index").unwrap();
            let key: Vec<u8> = [b"a".as_slice(), name.as_bytes()].concat();
            let list = index.get(&key).unwrap().unwrap();
            index.insert(&key, &list[..list.len() - 8]).unwrap();
        });
        assert_eq!(bad, events.last().unwrap().seq, "{name}: {message}");
        assert!(
            message.contains(&format!("account index of {name}")),
            "{message}"
        );
    }
}

/// The walk from both ends hands every account with events of its own to exactly one side
/// (front in name order, back in reverse), with what `account_events_for` gives; accounts only
/// absorbed are left out, accounts whose every event is after `until` are not; stopping stops
/// both sides.
#[test]
fn walking_from_both_ends_hands_each_account_to_one_side_once() {
    both(|store| {
        let until = parse_date("2024-06-30").unwrap();
        let mut events: Vec<Event> = (0..400)
            .map(|i| verified(&format!("a{:03}", (i * 37) % 150)))
            .collect();
        let mut late = verified("a075-late");
        late.date = parse_date("2025-06-01").unwrap();
        events.push(late);
        events.push(event(
            "a100",
            Body::AccountsMerged(MergeData {
                absorbed: account("a050-gone"),
            }),
        ));
        append(store, events).unwrap();

        let mut front: Vec<(Account, Vec<StoredEvent>)> = Vec::new();
        let mut back: Vec<(Account, Vec<StoredEvent>)> = Vec::new();
        store
            .for_each_account_events_from_both_ends(
                Some(until),
                &mut |a, e| {
                    front.push((a.clone(), e));
                    Ok(true)
                },
                &mut |a, e| {
                    back.push((a.clone(), e));
                    Ok(true)
                },
            )
            .unwrap();
        assert!(front.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(back.windows(2).all(|w| w[0].0 > w[1].0));
        let seen: Vec<_> = front.into_iter().chain(back.into_iter().rev()).collect();
        let want: Vec<_> = store
            .accounts()
            .unwrap()
            .into_iter()
            .map(|a| {
                let e = store.account_events_for(&a, Some(until), None).unwrap();
                (a, e)
            })
            .collect();
        assert_eq!(seen.len(), 151);
        assert!(seen.iter().any(|(a, _)| a.as_str() == "a075-late"));
        assert!(!seen.iter().any(|(a, _)| a.as_str() == "a050-gone"));
        assert_eq!(seen, want);

        // A side that stops ends both walks. The back side holds its first account until the
        // front has stopped (or 10 s have passed), so the front gets its three whatever the
        // threads' timing.
        use std::sync::atomic::{AtomicBool, Ordering};
        let stopped = AtomicBool::new(false);
        let (mut count, mut other) = (0, 0);
        store
            .for_each_account_events_from_both_ends(
                Some(until),
                &mut |_, _| {
                    count += 1;
                    if count == 3 {
                        stopped.store(true, Ordering::SeqCst);
                    }
                    Ok(count < 3)
                },
                &mut |_, _| {
                    let waited = std::time::Instant::now();
                    while !stopped.load(Ordering::SeqCst)
                        && waited.elapsed() < Duration::from_secs(10)
                    {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    other += 1;
                    Ok(true)
                },
            )
            .unwrap();
        assert_eq!(count, 3);
        assert!(other <= 2, "{other} accounts after the stop");
    });
}

/// With an unbroken chain, what the indexes hold beyond the head is damage too: a copy line,
/// an account-list entry or an id entry past the last event is named, not skipped.
#[test]
fn verify_names_index_entries_and_copy_lines_beyond_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let path = filled_store(dir.path(), 10);
    let head = open(&path).head().unwrap().seq;

    // A line past the head at the end of acct3's copy (its chunk header saying so too).
    let (bad, message) = damaged(&path, |s| {
        let streams = s.raw_db().open_tree("streams").unwrap();
        let (key, value) = streams.scan_prefix(b"acct3\0").last().unwrap().unwrap();
        let mut lines = raw::decode_block(&value[8..]).unwrap();
        let last = String::from_utf8(lines.last().unwrap().clone()).unwrap();
        let seq = partner_ledger::line::LineView::parse_copy(last.as_bytes())
            .unwrap()
            .seq;
        let beyond = last.replace(
            &format!("\"seq\":{seq},"),
            &format!("\"seq\":{},", head + 1),
        );
        assert_ne!(beyond, last);
        lines.push(beyond.into_bytes());
        let mut v = (head + 1).to_be_bytes().to_vec();
        v.extend(raw::encode_block(&lines));
        streams.insert(key, v).unwrap();
    });
    assert!(message.contains("stream copy of acct3"), "{bad}: {message}");

    // An account-list entry past the head.
    let (bad, message) = damaged(&path, |s| {
        let index = s.raw_db().open_tree("index").unwrap();
        let key: Vec<u8> = [b"a".as_slice(), b"acct3"].concat();
        let mut list = index.get(&key).unwrap().unwrap().to_vec();
        list.extend((head + 2).to_be_bytes());
        index.insert(&key, list).unwrap();
    });
    assert_eq!(bad, head + 2, "{message}");
    assert!(message.contains("account index of acct3"), "{message}");

    // An id entry past the head, in the bucket of an existing id, sorting after it.
    let (bad, message) = damaged(&path, |s| {
        let index = s.raw_db().open_tree("index").unwrap();
        let (key, value) = index.scan_prefix(b"i").next().unwrap().unwrap();
        let mut entries = value.to_vec();
        let mut stray = entries[entries.len() - 24..].to_vec();
        stray[15] = stray[15].wrapping_add(1);
        stray[16..].copy_from_slice(&(head + 3).to_be_bytes());
        entries.extend(stray);
        index.insert(key, entries).unwrap();
    });
    assert_eq!(bad, head + 3, "{message}");
    assert!(message.contains("id index"), "{message}");
}

/// The data file's modification time and a digest of its bytes.
fn data_file_state(path: &Path) -> (std::time::SystemTime, u64, Vec<u8>) {
    use sha2::{Digest, Sha256};
    let file = path.join("db");
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    let bytes = std::fs::read(&file).unwrap();
    (
        modified,
        bytes.len() as u64,
        Sha256::digest(&bytes).to_vec(),
    )
}

/// sled's open prepares its file for writing (it zeroes the tail of the segment it recovered,
/// and every free segment); a handle opened for reading over a settled store leaves that to the
/// next writing open, so its process writes nothing to the data file at all. The next writer
/// then appends and verifies as usual.
#[test]
fn sled_reading_handle_over_a_settled_store_writes_nothing_to_the_data_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = open(&path);
        for round in 0..4 {
            append(
                &store,
                (0..400)
                    .map(|i| verified(&format!("a{}", (i + round) % 9)))
                    .collect(),
            )
            .unwrap();
        }
    }
    let (expected, a4) = {
        let store = open(&path);
        (
            all_events(&store),
            store.account_version(&account("a4")).unwrap(),
        )
    };
    let before = data_file_state(&path);
    std::thread::sleep(Duration::from_millis(20));
    for _ in 0..3 {
        let reader = SledStore::open_for_reading(&path).unwrap();
        assert_eq!(all_events(&reader), expected);
        assert_eq!(reader.account_version(&account("a4")).unwrap(), a4);
        verify_clean(&reader);
        drop(reader);
    }
    assert_eq!(
        data_file_state(&path),
        before,
        "a reader wrote to the data file"
    );
    let store = open(&path);
    append(&store, (0..50).map(|_| verified("a2")).collect()).unwrap();
    verify_clean(&store);
    assert_eq!(all_events(&store).len(), expected.len() + 50);
}

/// A reading handle over a store that needs recovery (a block beyond the head, an index update
/// cut short) recovers it like any other handle; opening it, sled first does the writes it
/// otherwise defers for readers.
#[test]
fn sled_reading_handle_recovers_a_store_that_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let late = verified("b");
    let late_id = late.id;
    {
        let store = open(&path);
        append(&store, vec![verified("a"), verified("b")]).unwrap();
        append(&store, vec![verified("a"), late]).unwrap();
        let index = store.raw_db().open_tree("index").unwrap();
        index.insert(b"m", &2u64.to_be_bytes()).unwrap();
        let stray = seal_all(&store, vec![verified("c")]).remove(0);
        let tree = store.raw_db().open_tree(raw::EVENTS_TREE).unwrap();
        tree.insert(
            5u64.to_be_bytes(),
            raw::encode_block(&[stray.to_line().into_bytes()]),
        )
        .unwrap();
        store.raw_db().flush().unwrap();
        assert!(store.verify(&mut |_, _| {}).unwrap().first_bad.is_some());
    }
    {
        let reader = SledStore::open_for_reading(&path).unwrap();
        assert_eq!(reader.head().unwrap().seq, 4);
        verify_clean(&reader);
        assert_eq!(reader.get_by_id(&late_id).unwrap().unwrap().seq, 4);
    }
    let store = open(&path);
    verify_clean(&store);
    assert_eq!(append(&store, vec![verified("c")]).unwrap().seq, 5);
    verify_clean(&store);
}

/// A reading handle's sled defers the zeroing that opening does (the recovered segment's tail,
/// the free segments) to its first write to the log. A write through such a handle (the store
/// never makes one; sled may, splitting a node it reads) goes through that path: it lands, and
/// the store stays whole for the next writer.
#[test]
fn sled_a_write_through_a_reading_handle_lands_and_the_store_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = open(&path);
        for round in 0..6 {
            append(
                &store,
                (0..300)
                    .map(|i| verified(&format!("a{}", (i * 7 + round) % 23)))
                    .collect(),
            )
            .unwrap();
        }
    }
    let expected = all_events(&open(&path));
    let before = data_file_state(&path);
    {
        let reader = SledStore::open_for_reading(&path).unwrap();
        let scratch = reader.raw_db().open_tree("scratch").unwrap();
        for i in 0..2000u32 {
            scratch.insert(i.to_be_bytes(), vec![7u8; 300]).unwrap();
        }
        reader.raw_db().flush().unwrap();
    }
    assert_ne!(data_file_state(&path).2, before.2, "the write did not land");
    let store = open(&path);
    assert_eq!(all_events(&store), expected);
    verify_clean(&store);
    let scratch = store.raw_db().open_tree("scratch").unwrap();
    assert_eq!(scratch.len(), 2000);
    assert_eq!(
        scratch.get(1999u32.to_be_bytes()).unwrap().unwrap().len(),
        300
    );
    append(&store, vec![verified("a3")]).unwrap();
    verify_clean(&store);
}

/// sled patch 5 (`shared_reads`): values read back from the file share the buffer their node
/// was read into. Every value, inline-sized or not, reads back as written after a reopen, after
/// rewriting some of them through the sharing handle, and after another reopen; and a value
/// held after its tree changed keeps its bytes.
#[test]
fn sled_values_read_into_one_shared_buffer_read_back_as_written_and_survive_rewrites() {
    let dir = tempfile::tempdir().unwrap();
    let value = |i: u32, round: u32| -> Vec<u8> {
        // 0..=3,000 bytes: inline (<= 22), small and several KB, so nodes hold mixes.
        let len = (i * 37 + round * 11) % 3_001;
        (0..len).map(|j| (i ^ j ^ round) as u8).collect()
    };
    // Retried for a moment: the handle dropped just before may still hold the file lock
    // while its flusher thread ends.
    let open = |shared: bool| {
        let config = sled::Config::new()
            .path(dir.path())
            .cache_capacity(1 << 20)
            .shared_reads(shared);
        let mut tries = 0;
        loop {
            match config.open() {
                Ok(db) => break db,
                Err(_) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("cannot open the test database: {e}"),
            }
        }
    };
    let n = 2_000u32;
    {
        let db = open(false);
        for i in 0..n {
            db.insert(i.to_be_bytes(), value(i, 0)).unwrap();
        }
        db.flush().unwrap();
    }
    let held = {
        let db = open(true);
        let held = db.get(7u32.to_be_bytes()).unwrap().unwrap();
        for i in 0..n {
            assert_eq!(
                db.get(i.to_be_bytes()).unwrap().unwrap(),
                value(i, 0),
                "{i}"
            );
        }
        // Rewrite every third value through the sharing handle; the rest keep pointing into
        // the buffers their nodes were read into.
        for i in (0..n).step_by(3) {
            db.insert(i.to_be_bytes(), value(i, 1)).unwrap();
        }
        let scanned: Vec<_> = db.iter().map(|kv| kv.unwrap()).collect();
        assert_eq!(scanned.len(), n as usize);
        for (k, v) in scanned {
            let i = u32::from_be_bytes(k.as_ref().try_into().unwrap());
            let round = u32::from(i % 3 == 0);
            assert_eq!(v, value(i, round), "{i}");
        }
        db.flush().unwrap();
        held
    };
    assert_eq!(
        held,
        value(7, 0),
        "a value held past its handle keeps its bytes"
    );
    let db = open(true);
    for i in (0..n).rev() {
        let round = u32::from(i % 3 == 0);
        assert_eq!(
            db.get(i.to_be_bytes()).unwrap().unwrap(),
            value(i, round),
            "{i}"
        );
    }
}
