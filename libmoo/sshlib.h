/*
 * sshlib.h: libssh, loaded the first time it is needed. Internal.
 *
 * libssh and what it brings (Kerberos, GSSAPI, keyutils, resolv) cost ~2 ms of CPU at
 * every start of moo, and its constructor sets up OpenSSL, yet only commands that reach a
 * host over SSH use it. So libmoo does not link it: ssh.h includes this header instead of
 * libssh's, moo__ssh_open() calls moo__sshlib_load() before the first libssh call, and the
 * names below go through the table it fills (util/sshlib.c). A libssh function not listed
 * here fails to link, which is how a new one is noticed.
 */
#ifndef MOO_SSHLIB_H
#define MOO_SSHLIB_H
#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include "internal.h"

/* clang-format off */
#define MOO__SSHLIB_FUNCS(X) \
	X(sftp_async_read) \
	X(sftp_async_read_begin) \
	X(sftp_attributes_free) \
	X(sftp_chmod) \
	X(sftp_close) \
	X(sftp_closedir) \
	X(sftp_dir_eof) \
	X(sftp_free) \
	X(sftp_get_error) \
	X(sftp_init) \
	X(sftp_lstat) \
	X(sftp_mkdir) \
	X(sftp_new) \
	X(sftp_new_channel) \
	X(sftp_open) \
	X(sftp_opendir) \
	X(sftp_read) \
	X(sftp_readdir) \
	X(sftp_rename) \
	X(sftp_seek64) \
	X(sftp_stat) \
	X(sftp_write) \
	X(ssh_channel_close) \
	X(ssh_channel_free) \
	X(ssh_channel_get_exit_status) \
	X(ssh_channel_is_closed) \
	X(ssh_channel_is_eof) \
	X(ssh_channel_is_open) \
	X(ssh_channel_new) \
	X(ssh_channel_open_session) \
	X(ssh_channel_poll) \
	X(ssh_channel_read) \
	X(ssh_channel_read_nonblocking) \
	X(ssh_channel_read_timeout) \
	X(ssh_channel_request_exec) \
	X(ssh_channel_request_pty_size) \
	X(ssh_channel_request_subsystem) \
	X(ssh_channel_send_eof) \
	X(ssh_channel_write) \
	X(ssh_clean_pubkey_hash) \
	X(ssh_connect) \
	X(ssh_disconnect) \
	X(ssh_free) \
	X(ssh_get_error) \
	X(ssh_get_fd) \
	X(ssh_get_fingerprint_hash) \
	X(ssh_get_publickey_hash) \
	X(ssh_get_server_publickey) \
	X(ssh_is_connected) \
	X(ssh_key_free) \
	X(ssh_key_type) \
	X(ssh_key_type_to_char) \
	X(ssh_new) \
	X(ssh_options_get) \
	X(ssh_options_get_port) \
	X(ssh_options_parse_config) \
	X(ssh_options_set) \
	X(ssh_session_export_known_hosts_entry) \
	X(ssh_session_is_known_server) \
	X(ssh_set_blocking) \
	X(ssh_string_free_char) \
	X(ssh_userauth_publickey_auto)
/* clang-format on */

struct moo__sshlib {
#define MOO__SSHLIB_FIELD(f) __typeof__(f) *f;
	MOO__SSHLIB_FUNCS(MOO__SSHLIB_FIELD)
#undef MOO__SSHLIB_FIELD
};
extern struct moo__sshlib moo__sshlib;

/* Loads libssh once (thread-safe). MOO_EIO, naming the library, when it cannot. */
int moo__sshlib_load(struct moo_error **err);

#ifndef MOO__SSHLIB_NO_NAMES
/* clang-format off */
#define sftp_async_read                      moo__sshlib.sftp_async_read
#define sftp_async_read_begin                moo__sshlib.sftp_async_read_begin
#define sftp_attributes_free                 moo__sshlib.sftp_attributes_free
#define sftp_chmod                           moo__sshlib.sftp_chmod
#define sftp_close                           moo__sshlib.sftp_close
#define sftp_closedir                        moo__sshlib.sftp_closedir
#define sftp_dir_eof                         moo__sshlib.sftp_dir_eof
#define sftp_free                            moo__sshlib.sftp_free
#define sftp_get_error                       moo__sshlib.sftp_get_error
#define sftp_init                            moo__sshlib.sftp_init
#define sftp_lstat                           moo__sshlib.sftp_lstat
#define sftp_mkdir                           moo__sshlib.sftp_mkdir
#define sftp_new                             moo__sshlib.sftp_new
#define sftp_new_channel                     moo__sshlib.sftp_new_channel
#define sftp_open                            moo__sshlib.sftp_open
#define sftp_opendir                         moo__sshlib.sftp_opendir
#define sftp_read                            moo__sshlib.sftp_read
#define sftp_readdir                         moo__sshlib.sftp_readdir
#define sftp_rename                          moo__sshlib.sftp_rename
#define sftp_seek64                          moo__sshlib.sftp_seek64
#define sftp_stat                            moo__sshlib.sftp_stat
#define sftp_write                           moo__sshlib.sftp_write
#define ssh_channel_close                    moo__sshlib.ssh_channel_close
#define ssh_channel_free                     moo__sshlib.ssh_channel_free
#define ssh_channel_get_exit_status          moo__sshlib.ssh_channel_get_exit_status
#define ssh_channel_is_closed                moo__sshlib.ssh_channel_is_closed
#define ssh_channel_is_eof                   moo__sshlib.ssh_channel_is_eof
#define ssh_channel_is_open                  moo__sshlib.ssh_channel_is_open
#define ssh_channel_new                      moo__sshlib.ssh_channel_new
#define ssh_channel_open_session             moo__sshlib.ssh_channel_open_session
#define ssh_channel_poll                     moo__sshlib.ssh_channel_poll
#define ssh_channel_read                     moo__sshlib.ssh_channel_read
#define ssh_channel_read_nonblocking         moo__sshlib.ssh_channel_read_nonblocking
#define ssh_channel_read_timeout             moo__sshlib.ssh_channel_read_timeout
#define ssh_channel_request_exec             moo__sshlib.ssh_channel_request_exec
#define ssh_channel_request_pty_size         moo__sshlib.ssh_channel_request_pty_size
#define ssh_channel_request_subsystem        moo__sshlib.ssh_channel_request_subsystem
#define ssh_channel_send_eof                 moo__sshlib.ssh_channel_send_eof
#define ssh_channel_write                    moo__sshlib.ssh_channel_write
#define ssh_clean_pubkey_hash                moo__sshlib.ssh_clean_pubkey_hash
#define ssh_connect                          moo__sshlib.ssh_connect
#define ssh_disconnect                       moo__sshlib.ssh_disconnect
#define ssh_free                             moo__sshlib.ssh_free
#define ssh_get_error                        moo__sshlib.ssh_get_error
#define ssh_get_fd                           moo__sshlib.ssh_get_fd
#define ssh_get_fingerprint_hash             moo__sshlib.ssh_get_fingerprint_hash
#define ssh_get_publickey_hash               moo__sshlib.ssh_get_publickey_hash
#define ssh_get_server_publickey             moo__sshlib.ssh_get_server_publickey
#define ssh_is_connected                     moo__sshlib.ssh_is_connected
#define ssh_key_free                         moo__sshlib.ssh_key_free
#define ssh_key_type                         moo__sshlib.ssh_key_type
#define ssh_key_type_to_char                 moo__sshlib.ssh_key_type_to_char
#define ssh_new                              moo__sshlib.ssh_new
#define ssh_options_get                      moo__sshlib.ssh_options_get
#define ssh_options_get_port                 moo__sshlib.ssh_options_get_port
#define ssh_options_parse_config             moo__sshlib.ssh_options_parse_config
#define ssh_options_set                      moo__sshlib.ssh_options_set
#define ssh_session_export_known_hosts_entry moo__sshlib.ssh_session_export_known_hosts_entry
#define ssh_session_is_known_server          moo__sshlib.ssh_session_is_known_server
#define ssh_set_blocking                     moo__sshlib.ssh_set_blocking
#define ssh_string_free_char                 moo__sshlib.ssh_string_free_char
#define ssh_userauth_publickey_auto          moo__sshlib.ssh_userauth_publickey_auto
#endif
#endif
