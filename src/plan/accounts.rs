//! Declarative users and groups, and directories to create: the files and
//! directories they put into the customisation layer, and the owner and
//! mode rules that go with them.
//!
//! `/etc/passwd`, `/etc/group` and `/etc/shadow` hold root and the declared
//! accounts (passwords locked). A user whose `gid` no group declares gets a
//! group of its own name. Home directories belong to their user, mode 0755.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};

use crate::input::perm_rule::{self, PermRule};
use crate::input::spec::{Group, User};

/// A directory to create, with its owner and mode (0755 unless given).
pub type DirectorySpec = PermRule;

/// What accounts and directories add to the image.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Generated {
    /// Text files, by absolute path.
    pub files: BTreeMap<String, String>,
    /// Directories to create, by absolute path.
    pub directories: Vec<String>,
    /// Their owners and modes, before the user's own rules.
    pub rules: Vec<PermRule>,
}

const DEFAULT_SHELL: &str = "/bin/sh";

/// The accounts' files and homes, the directories, and the user's `perms`
/// with user and group names resolved to ids. `base_files` are a base
/// image's account files (`etc/passwd`, …): its accounts are kept, ahead of
/// the declared ones, and its names resolve in `perms`.
pub fn generate(
    users: &BTreeMap<String, User>,
    groups: &BTreeMap<String, Group>,
    directories: &[DirectorySpec],
    user_perms: &[PermRule],
    base_files: &BTreeMap<String, String>,
) -> Result<(Generated, Vec<PermRule>)> {
    let base_file = |name: &str| base_files.get(name).map(String::as_str).unwrap_or("");
    let base_users = ids_of(base_file("etc/passwd"));
    let base_groups = ids_of(base_file("etc/group"));
    let mut generated = Generated::default();
    let mut all_users = BTreeMap::from([(
        "root".to_owned(),
        User {
            home: Some("/root".to_owned()),
            create_home: false,
            ..User::default()
        },
    )]);
    let mut all_groups = BTreeMap::from([("root".to_owned(), Group { gid: 0 })]);
    all_groups.extend(groups.clone());
    for (name, user) in users {
        check_name(name, "user")?;
        if all_users.insert(name.clone(), user.clone()).is_some() {
            bail!("the user root is always there; it cannot be declared in `users`");
        }
        let gid = user.gid.unwrap_or(user.uid);
        if !all_groups.values().any(|g| g.gid == gid) && !all_groups.contains_key(name) {
            all_groups.insert(name.clone(), Group { gid });
        }
    }
    for name in groups.keys() {
        check_name(name, "group")?;
    }
    check_unique(all_users.iter().map(|(n, u)| (n, u.uid)), "uid")?;
    check_unique(all_groups.iter().map(|(n, g)| (n, g.gid)), "gid")?;

    let mut members: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, user) in &all_users {
        for group in &user.groups {
            if !all_groups.contains_key(group) {
                bail!("user {name} is in group '{group}', which `groups` does not declare");
            }
            members.entry(group.as_str()).or_default().push(name);
        }
    }

    if !users.is_empty() || !groups.is_empty() {
        let mut passwd = String::new();
        let mut shadow = String::new();
        for (name, user) in by_id(&all_users, |u| u.uid) {
            let gid = user.gid.unwrap_or(user.uid);
            let home = home_of(name, user);
            let shell = user.shell.as_deref().unwrap_or(DEFAULT_SHELL);
            passwd.push_str(&format!(
                "{name}:x:{}:{gid}:{}:{home}:{shell}\n",
                user.uid, user.description
            ));
            shadow.push_str(&format!("{name}:!:1::::::\n"));
            if user.create_home {
                generated.directories.push(home.clone());
                generated.rules.push(PermRule {
                    mode: Some("0755".to_owned()),
                    uid: Some(user.uid),
                    gid: Some(gid),
                    uname: Some(name.clone()),
                    gname: group_name(&all_groups, gid),
                    ..PermRule::exact(&home)
                });
            }
        }
        let mut group_file = String::new();
        for (name, group) in by_id(&all_groups, |g| g.gid) {
            let list = members
                .get(name.as_str())
                .map_or(String::new(), |m| m.join(","));
            group_file.push_str(&format!("{name}:x:{}:{list}\n", group.gid));
        }
        for (file, text) in [
            ("etc/passwd", passwd),
            ("etc/group", group_file),
            ("etc/shadow", shadow),
        ] {
            generated
                .files
                .insert(format!("/{file}"), merge_lines(base_file(file), &text));
        }
        generated.rules.push(PermRule {
            mode: Some("0640".to_owned()),
            ..PermRule::exact("/etc/shadow")
        });
    }

    // Names that perms may use: the base's accounts, then the declared ones.
    let mut user_ids = base_users;
    user_ids.extend(all_users.iter().map(|(n, u)| (n.clone(), u.uid)));
    let mut group_ids = base_groups;
    group_ids.extend(all_groups.iter().map(|(n, g)| (n.clone(), g.gid)));
    let base_named = !base_files.is_empty();
    let users_by_name = Names {
        ids: &user_ids,
        kind: "user",
        argument: "users",
        field: "uid",
        base_named,
    };
    let groups_by_name = Names {
        ids: &group_ids,
        kind: "group",
        argument: "groups",
        field: "gid",
        base_named,
    };
    let resolve = |rule: &PermRule| -> Result<PermRule> {
        let mut rule = rule.clone();
        rule.uid = users_by_name.resolve(rule.uid, rule.uname.as_deref(), &rule)?;
        rule.gid = groups_by_name.resolve(rule.gid, rule.gname.as_deref(), &rule)?;
        if let (Some(uid), None) = (rule.uid, &rule.uname) {
            rule.uname = users_by_name.name_of(uid);
        }
        if let (Some(gid), None) = (rule.gid, &rule.gname) {
            rule.gname = groups_by_name.name_of(gid);
        }
        rule.validate()?;
        Ok(rule)
    };

    for directory in directories {
        let Some(path) = &directory.path else {
            bail!("every entry of `directories` needs a `path`");
        };
        if directory.regex.is_some() {
            bail!("the `directories` entry {path} has a regex; it takes only path, mode and owner");
        }
        let path = path.trim_end_matches('/');
        if let Some(mode) = &directory.mode {
            perm_rule::parse_mode(mode)
                .with_context(|| format!("in the `directories` entry {path}"))?;
        }
        generated.directories.push(path.to_owned());
        let mut rule = directory.clone();
        rule.path = None;
        rule.regex = PermRule::exact(path).regex;
        rule.mode.get_or_insert_with(|| "0755".to_owned());
        generated.rules.push(resolve(&rule)?);
    }
    let user_rules = user_perms.iter().map(resolve).collect::<Result<Vec<_>>>()?;
    Ok((generated, user_rules))
}

/// User or group names, to ids, for `perms`.
struct Names<'a> {
    ids: &'a BTreeMap<String, u32>,
    kind: &'static str,
    argument: &'static str,
    field: &'static str,
    /// Whether a base image's accounts are among them.
    base_named: bool,
}

impl Names<'_> {
    /// The id a rule gives, or the one of the name it gives.
    fn resolve(&self, id: Option<u32>, name: Option<&str>, rule: &PermRule) -> Result<Option<u32>> {
        let (None, Some(name)) = (id, name) else {
            return Ok(id);
        };
        let Some(&id) = self.ids.get(name) else {
            let declared_by = if self.base_named {
                format!("neither `{}` nor the base image does", self.argument)
            } else {
                format!("`{}` does", self.argument)
            };
            bail!(
                "{} names the {} '{name}', which {declared_by} not declare; declare it or give {}",
                where_of(rule),
                self.kind,
                self.field
            );
        };
        Ok(Some(id))
    }

    /// The first name with `id`.
    fn name_of(&self, id: u32) -> Option<String> {
        self.ids
            .iter()
            .find(|(_, i)| **i == id)
            .map(|(n, _)| n.clone())
    }
}

/// Name to id (the third field) of the lines of an account file.
fn ids_of(text: &str) -> BTreeMap<String, u32> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse().ok()?;
            Some((name.to_owned(), id))
        })
        .collect()
}

/// The base's lines of an account file, less those of accounts `ours`
/// redefines (root stays the base's), then the rest of `ours`.
fn merge_lines(base: &str, ours: &str) -> String {
    let name = |line: &str| line.split(':').next().unwrap_or("").to_owned();
    let base_names: BTreeSet<String> = base.lines().map(name).collect();
    let our_names: BTreeSet<String> = ours.lines().map(name).collect();
    let mut merged = String::new();
    for line in base.lines().filter(|l| {
        let n = name(l);
        n == "root" || !our_names.contains(&n)
    }) {
        merged.push_str(line);
        merged.push('\n');
    }
    for line in ours
        .lines()
        .filter(|l| name(l) != "root" || !base_names.contains("root"))
    {
        merged.push_str(line);
        merged.push('\n');
    }
    merged
}

fn where_of(rule: &PermRule) -> String {
    match (&rule.path, &rule.regex) {
        (Some(path), _) => format!("the perms entry for {path}"),
        (None, Some(regex)) => format!("the perms entry for '{regex}'"),
        (None, None) => "a perms entry".to_owned(),
    }
}

fn home_of(name: &str, user: &User) -> String {
    user.home
        .clone()
        .unwrap_or_else(|| format!("/home/{name}"))
        .trim_end_matches('/')
        .to_owned()
}

fn group_name(groups: &BTreeMap<String, Group>, gid: u32) -> Option<String> {
    groups
        .iter()
        .filter(|(_, g)| g.gid == gid)
        .map(|(n, _)| n.clone())
        .next()
}

/// Entries ordered by id, then name.
fn by_id<T>(map: &BTreeMap<String, T>, id: impl Fn(&T) -> u32) -> Vec<(&String, &T)> {
    let mut entries: Vec<(&String, &T)> = map.iter().collect();
    entries.sort_by_key(|(name, value)| (id(value), name.as_str()));
    entries
}

fn check_name(name: &str, what: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid {
        bail!(
            "'{name}' is not a valid {what} name (letters, digits, _ - . and at most 32 characters)"
        );
    }
    Ok(())
}

fn check_unique<'a>(ids: impl Iterator<Item = (&'a String, u32)>, what: &str) -> Result<()> {
    let mut seen: BTreeMap<u32, &String> = BTreeMap::new();
    for (name, id) in ids {
        if let Some(other) = seen.insert(id, name) {
            bail!("{other} and {name} both have {what} {id}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> BTreeMap<String, User> {
        BTreeMap::from([(
            "alice".to_owned(),
            User {
                uid: 1000,
                groups: vec!["wheel".to_owned()],
                create_home: true,
                ..User::default()
            },
        )])
    }

    #[test]
    fn users_make_passwd_group_shadow_and_homes() {
        let groups = BTreeMap::from([("wheel".to_owned(), Group { gid: 10 })]);
        let (generated, _) = generate(&alice(), &groups, &[], &[], &BTreeMap::new()).unwrap();
        assert_eq!(
            generated.files["/etc/passwd"],
            "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"
        );
        assert_eq!(
            generated.files["/etc/group"],
            "root:x:0:\nwheel:x:10:alice\nalice:x:1000:\n"
        );
        assert!(generated.files["/etc/shadow"].starts_with("root:!:"));
        assert_eq!(generated.directories, ["/home/alice"]);
        let home = &generated.rules[0];
        assert_eq!((home.uid, home.gid), (Some(1000), Some(1000)));
        assert_eq!(home.uname.as_deref(), Some("alice"));
    }

    #[test]
    fn a_base_images_accounts_are_kept_and_its_names_resolve() {
        let base_files = BTreeMap::from([
            (
                "etc/passwd".to_owned(),
                "root:x:0:0:base root:/root:/bin/ash\nwww:x:33:33::/var/www:/bin/false\n"
                    .to_owned(),
            ),
            ("etc/group".to_owned(), "root:x:0:\nwww:x:33:\n".to_owned()),
        ]);
        let rule = PermRule {
            path: Some("/srv".to_owned()),
            uname: Some("www".to_owned()),
            gname: Some("www".to_owned()),
            ..PermRule::default()
        };
        let (generated, rules) = generate(
            &alice(),
            &groups_wheel(),
            &[],
            std::slice::from_ref(&rule),
            &base_files,
        )
        .unwrap();
        assert_eq!(
            generated.files["/etc/passwd"],
            "root:x:0:0:base root:/root:/bin/ash\nwww:x:33:33::/var/www:/bin/false\n\
             alice:x:1000:1000::/home/alice:/bin/sh\n",
            "the base's root stays, the declared users follow"
        );
        assert!(
            generated.files["/etc/group"].starts_with("root:x:0:\nwww:x:33:\nwheel:x:10:alice\n")
        );
        assert_eq!((rules[0].uid, rules[0].gid), (Some(33), Some(33)));
    }

    #[test]
    fn names_in_perms_resolve_to_ids_and_unknown_ones_are_errors() {
        let rule = PermRule {
            path: Some("/data".to_owned()),
            uname: Some("alice".to_owned()),
            ..PermRule::default()
        };
        let (_, rules) = generate(
            &alice(),
            &groups_wheel(),
            &[],
            std::slice::from_ref(&rule),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(rules[0].uid, Some(1000));
        let bob = PermRule {
            uname: Some("bob".to_owned()),
            ..rule
        };
        let err = format!(
            "{:#}",
            generate(&alice(), &groups_wheel(), &[], &[bob], &BTreeMap::new()).unwrap_err()
        );
        assert!(
            err.contains("the user 'bob'") && err.contains("/data"),
            "{err}"
        );
    }

    fn groups_wheel() -> BTreeMap<String, Group> {
        BTreeMap::from([("wheel".to_owned(), Group { gid: 10 })])
    }

    #[test]
    fn bad_accounts_are_named() {
        let mut users = alice();
        users.get_mut("alice").unwrap().groups = vec!["nope".to_owned()];
        let err = format!(
            "{:#}",
            generate(&users, &BTreeMap::new(), &[], &[], &BTreeMap::new()).unwrap_err()
        );
        assert!(err.contains("'nope'"), "{err}");
        let mut users = alice();
        users.insert(
            "bob".to_owned(),
            User {
                uid: 1000,
                ..User::default()
            },
        );
        let err = format!(
            "{:#}",
            generate(&users, &groups_wheel(), &[], &[], &BTreeMap::new()).unwrap_err()
        );
        assert!(err.contains("both have uid 1000"), "{err}");
    }
}
