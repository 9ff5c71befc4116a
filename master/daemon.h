/*
 * daemon.h: detach from the terminal the way init scripts expect.
 *
 * The start-up errors an operator must fix (config, listeners, store, log
 * files, pid file) are all found before daemon_detach() or reported
 * through it, so they reach the terminal and the exit status of the
 * command that was typed.  The process that ends up serving is the
 * grandchild: session leader's child, so it can never reacquire a
 * controlling terminal.
 */
#ifndef SHUNT_DAEMON_H
#define SHUNT_DAEMON_H

/*
 * Double fork and setsid.  Returns in the grandchild only, with the write
 * end of a pipe the original process waits on; the original process exits
 * 0 when daemon_ready() is called, 1 when the pipe closes without it (the
 * grandchild died or gave up: it printed why on stderr, which still is
 * the terminal).  -1 with errno when the first fork or the pipe fails
 * (then nothing was forked and the caller still is the original process).
 */
int	daemon_detach(void);

/*
 * In the grandchild, once it serves: release the waiting parent with
 * status 0 and point stdin, stdout and stderr at /dev/null.
 */
void	daemon_ready(int fd);

#endif /* SHUNT_DAEMON_H */
