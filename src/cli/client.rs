//! The CLI's connection to the HSM core: one `Connect`, one read-write session, the login
//! state, and the one place where a core error becomes a message that knows who is asking.
//!
//! The CLI is a client of the core exactly like the PKCS#11 layer: it sends `Request`s
//! through `trait Hsm` and decides nothing itself.

use std::io::IsTerminal;
use std::sync::Arc;

use crate::config::SlotConfig;
use crate::error::Error;
use crate::hsm::api::{ConnId, Hsm, Request, Response, Role, Secret, SessionId, UserType};

use super::errors::Failure;

/// Who is logged in, and the password they used (kept only so `user change-password` can
/// prove it for their own account; zeroized on drop).
struct LoginState {
    user: String,
    role: Role,
    password: Secret,
}

/// A connection to one cluster.
pub(crate) struct Client {
    hsm: Arc<dyn Hsm>,
    conn: ConnId,
    sid: SessionId,
    slot: SlotConfig,
    login: Option<LoginState>,
    closed: bool,
}

/// Parse a role argument.
pub(crate) fn parse_role(role: &str) -> Result<Role, Failure> {
    match role {
        "admin" => Ok(Role::Admin),
        "crypto-user" => Ok(Role::CryptoUser),
        "unactivated-admin" => Err(Failure::new(
            "unactivated-admin cannot log in: run `cluster activate` first",
        )),
        other => Err(Failure::new(format!(
            "unknown role '{other}' (admin or crypto-user)"
        ))),
    }
}

/// Whether a password can be asked for on the terminal.
pub(crate) fn can_prompt() -> bool {
    std::io::stdin().is_terminal()
}

/// Ask for a password without echo; `confirm` asks twice.
pub(crate) fn prompt_password(prompt: &str, confirm: bool) -> Result<Secret, Failure> {
    if !can_prompt() {
        return Err(Failure::new(
            "no password given (use --password; there is no terminal to ask on)",
        ));
    }
    let read = |p: &str| {
        rpassword::prompt_password(p)
            .map_err(|e| Failure::new(format!("cannot read the password: {e}")))
    };
    let first = zeroize::Zeroizing::new(read(prompt)?);
    if confirm {
        let second = zeroize::Zeroizing::new(read("Confirm password: ")?);
        if *first != *second {
            return Err(Failure::new("the passwords do not match"));
        }
    }
    Ok(Secret::new(first.as_bytes().to_vec()))
}

/// A password option, else asked for on the terminal.
pub(crate) fn password_arg(
    given: Option<&str>,
    prompt: &str,
    confirm: bool,
) -> Result<Secret, Failure> {
    match given {
        Some(p) => Ok(Secret::new(p.as_bytes().to_vec())),
        None => prompt_password(prompt, confirm),
    }
}

impl Client {
    /// Open the cluster's core, connect, and open a read-write session.
    pub(crate) fn open(mut slot: SlotConfig) -> Result<Client, Failure> {
        // Strict CloudHSM mode describes what PKCS#11 applications meet; the management CLI
        // is CloudHSM's own tool and does what cloudhsm-cli does (activate, set attributes).
        slot.compat = crate::config::Compat::Default;
        let hsm = crate::hsm::open(&slot).map_err(|e| {
            Failure::hsm(e).context(&format!("cannot open the store {}", slot.store.display()))
        })?;
        let conn = match hsm.call(Request::Connect)? {
            Response::Connected(c) => c,
            _ => return Err(Failure::hsm(Error::GeneralError)),
        };
        let sid = SessionId(1);
        hsm.call(Request::OpenSession {
            conn,
            sid,
            rw: true,
        })?;
        Ok(Client {
            hsm,
            conn,
            sid,
            slot,
            login: None,
            closed: false,
        })
    }

    pub(crate) fn conn(&self) -> ConnId {
        self.conn
    }

    pub(crate) fn sid(&self) -> SessionId {
        self.sid
    }

    pub(crate) fn slot(&self) -> &SlotConfig {
        &self.slot
    }

    /// The logged-in user and role.
    pub(crate) fn who(&self) -> Option<(&str, Role)> {
        self.login.as_ref().map(|l| (l.user.as_str(), l.role))
    }

    /// Send a request; a failure gets a message that takes the caller's role into account.
    pub(crate) fn call(&self, req: Request) -> Result<Response, Failure> {
        self.hsm.call(req).map_err(|e| self.explain(e))
    }

    /// The message for a core error, knowing who is logged in.
    pub(crate) fn explain(&self, e: Error) -> Failure {
        let f = Failure::hsm(e);
        let role = self.login.as_ref().map(|l| l.role);
        match (e, role) {
            // The core answers CKR_USER_NOT_LOGGED_IN when the login is of the wrong kind.
            (Error::UserNotLoggedIn, Some(Role::Admin)) => f.say(
                "this role cannot do that: admins manage users and never create or use keys; log in as a crypto user",
            ),
            (Error::UserNotLoggedIn, Some(Role::CryptoUser)) => {
                f.say("this role cannot do that: only admins manage users")
            }
            (Error::UserNotLoggedIn, _) => f.say(
                "not logged in: use `login`, --username/--role/--password, or CLOUDHSM_ROLE and CLOUDHSM_PIN",
            ),
            (Error::UserTypeInvalid, Some(Role::Admin)) => {
                f.say("this role cannot do that: only crypto users own, use and share keys")
            }
            (Error::UserTypeInvalid, Some(Role::CryptoUser)) => f.say(
                "this role cannot do that: only admins create or delete users or change other users' passwords",
            ),
            (Error::ObjectHandleInvalid | Error::KeyHandleInvalid, Some(Role::Admin)) => {
                f.say("key not available to this user: admins see key metadata but never use or change keys")
            }
            _ => f,
        }
    }

    /// Log in. `role` is the CLI's role word.
    pub(crate) fn login(
        &mut self,
        user: &str,
        role: &str,
        password: Secret,
    ) -> Result<(String, Role), Failure> {
        let role = parse_role(role)?;
        let user_type = match role {
            Role::Admin => UserType::So,
            Role::CryptoUser | Role::UnactivatedAdmin => UserType::User,
        };
        let req = Request::Login {
            conn: self.conn,
            user_type,
            username: Some(user.to_string()),
            pin: password.clone(),
        };
        match self.call(req)? {
            Response::LoggedIn { user, role } => {
                self.login = Some(LoginState {
                    user: user.clone(),
                    role,
                    password,
                });
                Ok((user, role))
            }
            _ => Err(Failure::hsm(Error::GeneralError)),
        }
    }

    /// Log out.
    pub(crate) fn logout(&mut self) -> Result<(), Failure> {
        self.call(Request::Logout { conn: self.conn })?;
        self.login = None;
        Ok(())
    }

    /// The password the current user logged in with.
    pub(crate) fn login_password(&self) -> Option<&Secret> {
        self.login.as_ref().map(|l| &l.password)
    }

    /// Remember a new password for the current user (after changing it).
    pub(crate) fn set_login_password(&mut self, password: Secret) {
        if let Some(l) = self.login.as_mut() {
            l.password = password;
        }
    }

    /// Log out (so the audit log records it), close the session and disconnect.
    pub(crate) fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if self.login.is_some() {
            let _ = self.logout();
        }
        let _ = self.hsm.call(Request::CloseSession {
            conn: self.conn,
            sid: self.sid,
        });
        let _ = self.hsm.call(Request::Disconnect { conn: self.conn });
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}
