/* Runs the selected checks, each attempt in its own sandbox, on up to `jobs`
 * threads. Results land in playbook order whatever order they finish in. */
#include "check/runner.h"

#include "check/run_share.h"
#include "check/sandbox.h"
#include "util/strbuf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long uat_runner_select(const struct uat_playbook *pb, const char *const *only, size_t nonly,
                       bool *selected, struct uat_error *err) {
  long count = 0;
  for (size_t c = 0; c < pb->nchecks; c++) {
    selected[c] = nonly == 0;
    for (size_t s = 0; s < nonly && !selected[c]; s++)
      selected[c] =
          strcmp(pb->checks[c].id, only[s]) == 0 || uat_check_has_tag(&pb->checks[c], only[s]);
    count += selected[c];
  }
  for (size_t s = 0; s < nonly; s++) {
    bool matched = false;
    for (size_t c = 0; c < pb->nchecks && !matched; c++)
      matched =
          strcmp(pb->checks[c].id, only[s]) == 0 || uat_check_has_tag(&pb->checks[c], only[s]);
    if (!matched)
      return uat_error_set(err,
                           "--only '%s' matches no check id or tag in '%s'; "
                           "`uatrun lint %s` lists them",
                           only[s], pb->path, pb->path);
  }
  return count;
}

static double monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct work {
  const struct uat_runner_options *opts;
  struct uat_run_share *share; /* caches the checks of this run share */
  struct uat_run_result *run;
  const struct uat_check **queue; /* selected checks, in playbook order */
  bool *uses_browser;             /* per queue entry: the check opens a browser */
  bool *started;                  /* per queue entry: a worker took it */
  size_t nstarted;
  size_t done;
  int browsers_busy, browsers_max; /* browser checks running, and how many may */
  pthread_mutex_t lock;
  pthread_cond_t slot_cv; /* a browser check finished: its slot is free */
  int failed;             /* a result could not be allocated */
  struct uat_error err;
};

/* A check that is still busy this long after its deadline is stuck inside one
 * C call (a Lua pattern with heavy backtracking: the count hook cannot fire
 * there). Its thread is abandoned so the run can finish. */
#define STUCK_GRACE_S 5.0

/* One attempt on its own thread, shared by the thread and the waiter until
 * both have let go of it (refs). */
struct attempt {
  pthread_mutex_t lock;
  pthread_cond_t finished_cv;
  int refs;
  bool finished;
  struct uat_check_env env;
  struct uat_check_result result;
  struct uat_error err;
  int rc;
};

static void attempt_unref(struct attempt *a) {
  pthread_mutex_lock(&a->lock);
  bool last = --a->refs == 0;
  pthread_mutex_unlock(&a->lock);
  if (!last)
    return;
  uat_check_result_clear(&a->result);
  uat_run_share_unref(a->env.share);
  pthread_cond_destroy(&a->finished_cv);
  pthread_mutex_destroy(&a->lock);
  free(a);
}

static void *attempt_main(void *arg) {
  struct attempt *a = arg;
  int rc = uat_sandbox_run(&a->env, &a->result, &a->err);
  pthread_mutex_lock(&a->lock);
  a->rc = rc;
  a->finished = true;
  pthread_cond_signal(&a->finished_cv);
  pthread_mutex_unlock(&a->lock);
  attempt_unref(a);
  return NULL;
}

static struct attempt *attempt_new(const struct uat_check_env *env) {
  struct attempt *a = calloc(1, sizeof *a);
  if (!a)
    return NULL;
  pthread_condattr_t cattr;
  pthread_condattr_init(&cattr);
  pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
  pthread_mutex_init(&a->lock, NULL);
  pthread_cond_init(&a->finished_cv, &cattr);
  pthread_condattr_destroy(&cattr);
  a->refs = 2; /* the attempt's thread and its waiter */
  a->env = *env;
  /* A stuck thread is abandoned and may outlive the run: it keeps the share alive. */
  a->env.share = uat_run_share_ref(env->share);
  return a;
}

/* Runs one attempt under a watchdog. Sets *stuck when the attempt had to be
 * abandoned; out then says so. */
static int run_attempt(const struct uat_check_env *env, struct uat_check_result *out,
                       struct uat_error *err, bool *stuck) {
  struct attempt *a = attempt_new(env);
  pthread_t thread;
  pthread_attr_t tattr;
  pthread_attr_init(&tattr);
  pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
  bool started = a && pthread_create(&thread, &tattr, attempt_main, a) == 0;
  pthread_attr_destroy(&tattr);
  if (!started) {
    if (a) {
      a->refs = 1; /* no thread took its reference */
      attempt_unref(a);
    }
    return uat_sandbox_run(env, out, err); /* no thread to spare: run it here, unguarded */
  }
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  double now = (double)until.tv_sec + (double)until.tv_nsec / 1e9;
  double left = env->deadline > now ? env->deadline - now : 0;
  double wait = left + STUCK_GRACE_S;
  until.tv_sec += (time_t)wait;
  until.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&a->lock);
  while (!a->finished && pthread_cond_timedwait(&a->finished_cv, &a->lock, &until) == 0)
    ;
  bool finished = a->finished;
  int rc = a->rc;
  if (finished) {
    *out = a->result;
    memset(&a->result, 0, sizeof a->result);
    if (rc != 0)
      *err = a->err;
  }
  pthread_mutex_unlock(&a->lock);
  attempt_unref(a);
  if (finished)
    return rc;
  *stuck = true;
  out->outcome = UAT_OUTCOME_ERROR;
  out->duration_s = wait;
  out->error = strdup("check did not stop at its timeout: it is stuck inside one library call "
                      "(for example a Lua pattern with heavy backtracking, which cannot be "
                      "interrupted); its thread was abandoned — simplify the pattern");
  return out->error ? 0 : uat_error_set(err, "out of memory");
}

#define MAX_NOTE 4096 /* bytes of an earlier attempt's line, as log() lines */

/* One log line saying why an earlier attempt did not pass, which the retry would otherwise
 * hide (a flaky staging). Its texts are already redacted. Caller frees; NULL: out of memory. */
static char *attempt_note(const struct uat_check_result *r, int attempt) {
  const struct uat_expectation *e = NULL;
  for (size_t i = 0; i < r->nexpectations && !e; i++)
    if (!r->expectations[i].ok)
      e = &r->expectations[i];
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  int rc = uat_strbuf_addf(&sb, "attempt %d %s: ", attempt,
                           r->outcome == UAT_OUTCOME_ERROR ? "errored" : "failed");
  if (r->outcome == UAT_OUTCOME_ERROR || !e) {
    rc |= uat_strbuf_adds(&sb, r->error ? r->error : "no reason recorded");
  } else {
    rc |= uat_strbuf_adds(&sb, e->message);
    if (e->where)
      rc |= uat_strbuf_addf(&sb, " (%s)", e->where);
    if (e->expected)
      rc |= uat_strbuf_addf(&sb, ": expected %s", e->expected);
    if (e->actual)
      rc |= uat_strbuf_addf(&sb, "%s actual %s", e->expected ? "," : ":", e->actual);
    size_t more = uat_check_result_failed_expectations(r) - 1;
    if (more)
      rc |= uat_strbuf_addf(&sb, " (and %zu more failed expectation%s)", more, more > 1 ? "s" : "");
  }
  if (rc != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_text_cut(uat_strbuf_take(&sb), MAX_NOTE, "... (truncated)");
}

/* The log line of a retry that never ran: the attempts before it used up the check's
 * timeout. Caller frees; NULL: out of memory. */
static char *not_started_note(int attempt, int max_attempts, double timeout) {
  struct uat_strbuf sb;
  uat_strbuf_init(&sb, 0);
  if (uat_strbuf_addf(&sb,
                      "attempt %d of %d not started: the check's %.1fs timeout is shared by its "
                      "attempts and no time was left; raise the check's timeout to give retries "
                      "time",
                      attempt, max_attempts, timeout) != 0) {
    uat_strbuf_release(&sb);
    return NULL;
  }
  return uat_strbuf_take(&sb);
}

/* Puts the notes of earlier attempts before the log lines of the attempt that counts. */
static int prepend_notes(struct uat_check_result *out, char **notes, size_t nnotes) {
  if (nnotes == 0)
    return 0;
  char **logs = malloc((nnotes + out->nlogs) * sizeof *logs);
  if (!logs)
    return -1;
  memcpy(logs, notes, nnotes * sizeof *logs);
  if (out->nlogs)
    memcpy(logs + nnotes, out->logs, out->nlogs * sizeof *logs);
  free(out->logs);
  out->logs = logs;
  out->nlogs += nnotes;
  return 0;
}

/* Runs every attempt of one check; keeps the last attempt's result, with a log line per
 * earlier attempt saying why it did not pass. */
static int run_check(const struct uat_runner_options *o, struct uat_run_share *share,
                     const struct uat_check *check, struct uat_check_result *out,
                     struct uat_error *err, bool *stuck) {
  struct uat_check_env env = {
      .share = share,
      .playbook = o->playbook,
      .check = check,
      .redactor = o->redactor,
      .base_url = o->base_url,
      .verbose = o->verbose,
      .artifacts_dir = o->artifacts_dir,
  };
  /* One budget for all attempts: a check with retries takes at most its timeout too. */
  double timeout = check->timeout_s > 0 ? check->timeout_s : UAT_DEFAULT_TIMEOUT_S;
  double started = monotonic();
  env.deadline = started + timeout;
  env.max_attempts = check->retries + 1;
  char *notes[UAT_MAX_RETRIES + 1];
  char *not_started = NULL;
  size_t nnotes = 0;
  int attempts = 0, rc = 0;
  for (;;) {
    uat_check_result_clear(out);
    env.attempt = ++attempts;
    if (run_attempt(&env, out, err, stuck) != 0) {
      rc = -1;
      break;
    }
    if (*stuck || out->outcome == UAT_OUTCOME_PASS || attempts > check->retries)
      break;
    if (monotonic() >= env.deadline) { /* this attempt's result counts: no time for the next */
      if (!(not_started = not_started_note(attempts + 1, env.max_attempts, timeout)))
        rc = uat_error_set(err, "out of memory");
      break;
    }
    if (nnotes < sizeof notes / sizeof *notes) {
      if (!(notes[nnotes] = attempt_note(out, attempts))) {
        rc = uat_error_set(err, "out of memory");
        break;
      }
      nnotes++;
    }
  }
  if (rc == 0 && prepend_notes(out, notes, nnotes) == 0)
    nnotes = 0; /* out->logs owns them now */
  else if (rc == 0)
    rc = uat_error_set(err, "out of memory");
  if (rc == 0 && not_started && uat_check_result_add_log(out, not_started) != 0)
    rc = uat_error_set(err, "out of memory");
  free(not_started);
  for (size_t i = 0; i < nnotes; i++)
    free(notes[i]);
  if (rc != 0)
    return -1;
  out->id = strdup(check->id);
  out->title = strdup(check->title ? check->title : check->id);
  out->attempts = attempts;
  /* the check's time on the clock its timeout runs on: all attempts, and the start of each
   * attempt's thread (which a loaded machine can delay) */
  out->duration_s = monotonic() - started;
  if (!out->id || !out->title)
    return uat_error_set(err, "out of memory");
  return 0;
}

/* The next check to start, in playbook order, skipping browser checks while every browser
 * slot is taken (an HTTP check need not wait behind them). Waits for a slot when only
 * browser checks are left. Returns the queue index, or -1 when nothing is left to start.
 * Called with w->lock held. */
static long take_next(struct work *w) {
  for (;;) {
    if (w->nstarted >= w->run->nchecks || w->failed)
      return -1;
    for (size_t i = 0; i < w->run->nchecks; i++) {
      if (w->started[i] || (w->uses_browser[i] && w->browsers_busy >= w->browsers_max))
        continue;
      w->started[i] = true;
      w->nstarted++;
      w->browsers_busy += w->uses_browser[i];
      return (long)i;
    }
    pthread_cond_wait(&w->slot_cv, &w->lock);
  }
}

static void *worker(void *arg) {
  struct work *w = arg;
  const struct uat_runner_options *o = w->opts;
  for (;;) {
    pthread_mutex_lock(&w->lock);
    long next = take_next(w);
    if (next >= 0 && o->on_start)
      o->on_start(w->queue[next], o->ctx);
    pthread_mutex_unlock(&w->lock);
    if (next < 0)
      return NULL;
    size_t i = (size_t)next;

    struct uat_error err;
    bool stuck = false;
    int rc = run_check(o, w->share, w->queue[i], &w->run->checks[i], &err, &stuck);

    pthread_mutex_lock(&w->lock);
    w->run->abandoned += stuck;
    if (w->uses_browser[i]) {
      w->browsers_busy--;
      pthread_cond_broadcast(&w->slot_cv);
    }
    if (rc != 0 && !w->failed) {
      w->failed = 1;
      w->err = err;
      pthread_cond_broadcast(&w->slot_cv); /* waiting workers stop too */
    }
    if (rc == 0) {
      w->done++;
      if (o->on_done)
        o->on_done(&w->run->checks[i], w->done, w->run->nchecks, o->ctx);
    }
    pthread_mutex_unlock(&w->lock);
  }
}

/* How many browser checks may run at once: the option, else one per CPU. More Chromiums
 * than cores only makes each one slower, until checks miss their timeouts; the time a check
 * waits for a slot is not taken from its timeout (its clock starts when it starts). */
static int browser_slots(const struct uat_runner_options *o) {
  if (o->browsers > 0)
    return o->browsers;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return cpus > 0 ? (int)(cpus < 64 ? cpus : 64) : 1;
}

static struct uat_run_result *new_run(const struct uat_runner_options *o, size_t n) {
  struct uat_run_result *run = calloc(1, sizeof *run);
  if (!run)
    return NULL;
  run->checks = calloc(n ? n : 1, sizeof *run->checks);
  run->nchecks = n;
  run->playbook_name = strdup(o->playbook->name);
  run->playbook_path = strdup(o->playbook->path);
  run->base_url = strdup(o->base_url);
  if (!run->checks || !run->playbook_name || !run->playbook_path || !run->base_url) {
    uat_run_result_free(run);
    return NULL;
  }
  return run;
}

static int run_workers(struct work *w, int jobs) {
  if (jobs <= 1 || w->run->nchecks <= 1) {
    worker(w);
    return 0;
  }
  size_t n = (size_t)jobs < w->run->nchecks ? (size_t)jobs : w->run->nchecks;
  pthread_t *threads = calloc(n, sizeof *threads);
  if (!threads)
    return -1;
  size_t started = 0;
  for (; started < n; started++)
    if (pthread_create(&threads[started], NULL, worker, w) != 0)
      break;
  if (started == 0)
    worker(w); /* no thread could start: run on this one */
  for (size_t t = 0; t < started; t++)
    pthread_join(threads[t], NULL);
  free(threads);
  return 0;
}

struct uat_run_result *uat_runner_run(const struct uat_runner_options *o, struct uat_error *err) {
  const struct uat_playbook *pb = o->playbook;
  bool *selected = calloc(pb->nchecks ? pb->nchecks : 1, sizeof *selected);
  if (!selected) {
    uat_error_set(err, "out of memory");
    return NULL;
  }
  long count = uat_runner_select(pb, o->only, o->nonly, selected, err);
  struct work w = {.opts = o};
  if (count < 0)
    goto out;
  w.queue = calloc((size_t)count + 1, sizeof *w.queue);
  w.uses_browser = calloc((size_t)count + 1, sizeof *w.uses_browser);
  w.started = calloc((size_t)count + 1, sizeof *w.started);
  w.run = new_run(o, (size_t)count);
  if (!w.queue || !w.uses_browser || !w.started || !w.run) {
    uat_error_set(err, "out of memory");
    uat_run_result_free(w.run);
    w.run = NULL;
    goto out;
  }
  if (!(w.share = uat_run_share_new(err))) {
    uat_run_result_free(w.run);
    w.run = NULL;
    goto out;
  }
  for (size_t c = 0, k = 0; c < pb->nchecks; c++)
    if (selected[c]) {
      struct uat_check_env env = {.playbook = pb, .check = &pb->checks[c]};
      w.uses_browser[k] = uat_sandbox_uses_browser(&env);
      w.queue[k++] = &pb->checks[c];
    }
  w.browsers_max = browser_slots(o);

  pthread_mutex_init(&w.lock, NULL);
  pthread_cond_init(&w.slot_cv, NULL);
  w.run->started_at = (int64_t)time(NULL);
  double t0 = monotonic();
  int rc = run_workers(&w, o->jobs);
  w.run->duration_s = monotonic() - t0;
  w.run->finished_at = (int64_t)time(NULL);
  pthread_cond_destroy(&w.slot_cv);
  pthread_mutex_destroy(&w.lock);
  if (rc != 0 || w.failed) {
    if (rc != 0)
      uat_error_set(err, "out of memory");
    else
      *err = w.err;
    uat_run_result_free(w.run);
    w.run = NULL;
    goto out;
  }
  for (size_t i = 0; i < w.run->nchecks; i++) {
    enum uat_outcome oc = w.run->checks[i].outcome;
    w.run->passed += oc == UAT_OUTCOME_PASS;
    w.run->failed += oc == UAT_OUTCOME_FAIL;
    w.run->errored += oc == UAT_OUTCOME_ERROR;
  }
out:
  uat_run_share_unref(w.share);
  free(selected);
  free(w.queue);
  free(w.uses_browser);
  free(w.started);
  return count < 0 ? NULL : w.run;
}
