/* The demo Tasking Manager frontend: a client-side single-page app like the real React one.
 * The server sends one empty HTML shell; this script keeps the session the way the real
 * frontend does (a Redux-style store whose auth slice is persisted to localStorage and
 * rewritten as the app starts), calls the API itself with `Authorization: Token …`, renders
 * every page into #root and changes routes with history.pushState, without page loads.
 *
 * The regressions of --break are bugs in this script, as they were in 4.6.2's frontend;
 * the API the server answers stays correct. window.TM_CONFIG comes from /config.js. */
(function () {
  'use strict';

  var config = window.TM_CONFIG || { release: '', breaks: [] };
  function broken(name) {
    return config.breaks.indexOf(name) >= 0;
  }

  /* ---- the store: state, actions, reducer, subscribers ----------------------------- */

  var PERSISTED = ['token', 'username', 'userDetails'];

  function readPersisted() {
    var auth = { token: null, username: null, userDetails: null };
    try {
      auth.token = localStorage.getItem('token');
      auth.username = localStorage.getItem('username');
      var details = localStorage.getItem('userDetails');
      auth.userDetails = details ? JSON.parse(details) : null;
    } catch (e) {
      /* storage disabled or a corrupt entry: start logged out, as the real app does */
      auth = { token: null, username: null, userDetails: null };
    }
    return auth;
  }

  function reducer(state, action) {
    switch (action.type) {
      case 'SET_USER_DETAILS':
        return Object.assign({}, state, {
          auth: Object.assign({}, state.auth, {
            userDetails: action.userDetails,
            username: action.userDetails.username,
          }),
        });
      case 'LOGOUT':
        return Object.assign({}, state, {
          auth: { token: null, username: null, userDetails: null },
        });
      case 'ROUTE':
        return Object.assign({}, state, { route: action.route });
      default:
        return state;
    }
  }

  function createStore(reduce, initial) {
    var state = initial;
    var listeners = [];
    return {
      getState: function () {
        return state;
      },
      dispatch: function (action) {
        state = reduce(state, action);
        listeners.forEach(function (l) {
          l();
        });
      },
      subscribe: function (l) {
        listeners.push(l);
      },
    };
  }

  var store = createStore(reducer, { auth: readPersisted(), route: null });

  /* Every change of the auth slice is written back, like the real frontend's subscriber. */
  function persist() {
    var auth = store.getState().auth;
    PERSISTED.forEach(function (key) {
      var value = auth[key];
      if (value === null || value === undefined) localStorage.removeItem(key);
      else localStorage.setItem(key, typeof value === 'string' ? value : JSON.stringify(value));
    });
  }
  store.subscribe(persist);

  /* ---- the API client --------------------------------------------------------------- */

  function api(path, opts) {
    opts = opts || {};
    var headers = { 'Accept-Language': 'en' };
    var token = store.getState().auth.token;
    if (token && opts.auth !== false) headers.Authorization = 'Token ' + token;
    return fetch('/api/v2/' + path, { headers: headers }).then(function (res) {
      return res.json().then(
        function (body) {
          return { status: res.status, body: body };
        },
        function () {
          return { status: res.status, body: {} };
        }
      );
    });
  }

  /* The project detail fetch. #6088: 4.6.2 called it without the token, so private and
   * draft projects answered 403 and the page said "Project not found" to their own users. */
  function fetchProject(id) {
    return api('projects/' + id + '/', { auth: !broken('auth-token') });
  }

  /* ---- rendering helpers ------------------------------------------------------------ */

  function h(tag, attrs) {
    var el = document.createElement(tag);
    attrs = attrs || {};
    Object.keys(attrs).forEach(function (k) {
      if (k === 'text') el.textContent = attrs[k];
      else el.setAttribute(k, attrs[k]);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return el;
  }

  function loggedIn() {
    var auth = store.getState().auth;
    return !!(auth.token && auth.userDetails);
  }

  function nav() {
    var auth = store.getState().auth;
    var user = loggedIn()
      ? h('a', { id: 'nav-user', class: 'nav-user', href: '/users/' + encodeURIComponent(auth.username), text: auth.username })
      : h('a', { id: 'nav-login', class: 'nav-login', href: '/login', text: 'Log in' });
    return h(
      'header',
      { class: 'tm-header' },
      h(
        'nav',
        { id: 'tm-nav', class: 'navbar' },
        h('a', { class: 'brand', href: '/', text: 'Tasking Manager' }),
        h(
          'ul',
          { class: 'nav-links' },
          h('li', {}, h('a', { href: '/explore', text: 'Explore projects' })),
          h('li', {}, h('a', { id: 'nav-my-tasks', href: '/contributions/tasks', text: 'My Tasks' }))
        ),
        user
      )
    );
  }

  function footer() {
    return h('footer', { class: 'footer' }, h('span', { text: 'uat-demo-staging' }), ' ',
      h('span', { id: 'release', class: 'release', text: config.release }));
  }

  var renderSeq = 0;

  /* Replaces the page; a render started before a newer navigation is dropped. */
  function show(title, main, seq) {
    if (seq !== renderSeq) return;
    document.title = title + ' | Tasking Manager';
    var root = document.getElementById('root');
    root.textContent = '';
    root.appendChild(nav());
    root.appendChild(main);
    root.appendChild(footer());
    root.setAttribute('data-route-ready', String(seq));
  }

  function notFoundBlock(status, body) {
    return h(
      'div',
      { id: 'project-not-found', class: 'project-not-found', 'data-status': String(status), 'data-subcode': (body && body.SubCode) || '' },
      h('h1', { text: 'Project not found' }),
      h('p', { text: 'The project you are looking for does not exist, or you do not have permission to see it.' }),
      h('a', { href: '/explore', text: 'Back to projects' })
    );
  }

  function projectHeading(dto) {
    return h('h1', { id: 'project-title', class: 'project-title', text: dto.projectInfo.name });
  }

  function mentionList(id, cls, names) {
    var ul = h('ul', { id: id, class: cls, role: 'listbox' });
    names.forEach(function (n) {
      ul.appendChild(h('li', { class: 'mention-suggestion', role: 'option', 'data-username': n, text: '@' + n }));
    });
    return ul;
  }

  /* Contributors of a project, in the API's order. #6114: the @mention box read the list
   * from a field the API does not send, so it suggested nobody. */
  function projectContributors(body) {
    var list = broken('mentions') ? body.contributors : body.userContributions;
    return (list || []).map(function (c) {
      return c.username;
    });
  }

  /* Who mapped or validated one task, from the contributions. #6115: the comment box kept
   * the list of the first task it showed, whatever task was open. */
  function taskContributors(body, task) {
    var wanted = broken('contributors') ? 1 : task;
    return (body.userContributions || [])
      .filter(function (c) {
        return (c.mappedTasks || []).indexOf(wanted) >= 0 || (c.validatedTasks || []).indexOf(wanted) >= 0;
      })
      .map(function (c) {
        return c.username;
      });
  }

  /* The level label. #6113: it was computed from tasks mapped, not from changesets. */
  function mapperLevel(changesets, tasksMapped) {
    var count = broken('labels') ? tasksMapped : changesets;
    if (count >= 500) return 'advanced';
    if (count >= 250) return 'intermediate';
    return 'beginner';
  }

  function capitalised(s) {
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  /* ---- pages ------------------------------------------------------------------------ */

  function homePage(seq) {
    show('Home', h('main', { id: 'home' },
      h('h1', { text: 'uat-demo-staging' }),
      h('p', { text: 'A staging server modelling Tasking Manager and the RDV-Solidarités admin, with the regressions of two real releases available through --break.' }),
      h('ul', { class: 'apps' },
        h('li', {}, h('a', { href: '/explore', text: 'Tasking Manager: explore projects' })),
        h('li', {}, h('a', { href: '/api/v2/system/heartbeat/', 'data-external': '1', text: 'Tasking Manager API heartbeat' })),
        h('li', {}, h('a', { href: '/agents/sign_in', text: 'RDV-Solidarités: agent sign-in' })))), seq);
  }

  function loginPage(seq) {
    show('Log in', h('main', { id: 'login-page', class: 'login' },
      h('h1', { text: 'Log in' }),
      h('p', { text: 'Tasking Manager uses your OpenStreetMap account.' }),
      h('a', { id: 'osm-login', class: 'button', href: '/login', text: 'Log in with OpenStreetMap' }),
      h('p', { class: 'demo-hint', text: 'Demo server: the app keeps the base64 session token in localStorage ("token") and the username ("username"), as the real frontend does after the OpenStreetMap callback.' })), seq);
  }

  function explorePage(seq) {
    return api('projects/').then(function (res) {
      var ul = h('ul', { id: 'project-cards', class: 'project-cards' });
      (res.body.results || []).forEach(function (p) {
        ul.appendChild(h('li', { class: 'project-card', 'data-project-id': String(p.projectId) },
          h('a', { href: '/projects/' + p.projectId, text: p.name })));
      });
      show('Explore projects', h('main', { id: 'explore-page' }, h('h1', { text: 'Explore projects' }), ul), seq);
    });
  }

  function projectPage(id, seq) {
    return fetchProject(id).then(function (res) {
      var main = h('main', { id: 'project-page', class: 'project-detail', 'data-project-id': String(id) });
      if (res.status !== 200) {
        main.appendChild(notFoundBlock(res.status, res.body));
        return show('Project not found', main, seq);
      }
      var dto = res.body;
      main.appendChild(projectHeading(dto));
      main.appendChild(h('div', { class: 'project-meta' },
        h('span', { id: 'project-status', class: 'project-status', text: dto.status }), ' ',
        h('span', { id: 'project-visibility', class: 'badge', text: dto.private ? 'Private' : 'Public' }), ' ',
        h('span', { id: 'project-priority', class: 'project-priority', text: dto.projectPriority })));
      main.appendChild(h('p', { id: 'project-short-description', text: dto.projectInfo.shortDescription }));
      main.appendChild(h('p', { class: 'project-organisation', text: 'Organisation: ' + dto.organisationName }));
      main.appendChild(h('div', { class: 'project-progress' },
        h('span', { id: 'percent-mapped', text: String(dto.percentMapped) }), '% mapped, ',
        h('span', { id: 'percent-validated', text: String(dto.percentValidated) }), '% validated'));
      main.appendChild(h('nav', { class: 'project-actions' },
        h('a', { id: 'contribute-link', class: 'button', href: '/projects/' + id + '/tasks/1', text: 'Contribute' }), ' ',
        h('a', { id: 'questions-link', href: '/projects/' + id + '/questions', text: 'Questions and comments' })));
      show(dto.projectInfo.name, main, seq);
    });
  }

  function questionsPage(id, seq) {
    return fetchProject(id).then(function (res) {
      var main = h('main', { id: 'project-questions', class: 'project-questions', 'data-project-id': String(id) });
      if (res.status !== 200) {
        main.appendChild(notFoundBlock(res.status, res.body));
        return show('Project not found', main, seq);
      }
      var dto = res.body;
      return Promise.all([api('projects/' + id + '/comments/'), api('projects/' + id + '/contributions/')]).then(function (r) {
        main.appendChild(projectHeading(dto));
        main.appendChild(h('h2', { text: 'Questions and comments' }));
        var ul = h('ul', { id: 'questions', class: 'question-list' });
        (r[0].body.chat || []).forEach(function (q, i) {
          ul.appendChild(h('li', { class: 'question', id: 'question_' + (q.id || i + 1) },
            h('span', { class: 'question-author', text: q.username }), ' ',
            h('time', { datetime: q.timestamp, text: q.timestamp }),
            h('p', { class: 'question-message', text: q.message })));
        });
        main.appendChild(ul);
        main.appendChild(h('form', { id: 'question-form', class: 'comment-form' },
          h('label', { for: 'question-input', text: 'Ask a question' }),
          h('textarea', { id: 'question-input', name: 'comment', rows: '4', placeholder: 'Write a comment. Type @ to mention a contributor.' }),
          mentionList('mention-suggestions', 'mention-suggestions', projectContributors(r[1].body)),
          h('button', { type: 'submit', class: 'button', text: 'Post' })));
        show(dto.projectInfo.name, main, seq);
      });
    });
  }

  function taskPage(id, task, seq) {
    return fetchProject(id).then(function (res) {
      var main = h('main', { id: 'task-page', class: 'task-detail', 'data-project-id': String(id), 'data-task-id': String(task) });
      if (res.status !== 200) {
        main.appendChild(notFoundBlock(res.status, res.body));
        return show('Project not found', main, seq);
      }
      var dto = res.body;
      main.appendChild(projectHeading(dto));
      if (task > dto.totalTasks) {
        main.appendChild(h('div', { id: 'task-not-found', class: 'task-not-found' },
          h('h2', { text: 'Task not found' }), h('p', { text: 'Project ' + id + ' has no task ' + task + '.' })));
        return show(dto.projectInfo.name, main, seq);
      }
      return api('projects/' + id + '/contributions/').then(function (c) {
        main.appendChild(h('h2', { id: 'task-title', class: 'task-title', text: 'Task #' + task }));
        main.appendChild(h('section', { id: 'task-comment', class: 'task-comment' },
          h('form', { id: 'task-comment-form', class: 'comment-form' },
            h('label', { for: 'comment-input', text: 'Comment' }),
            h('textarea', { id: 'comment-input', name: 'comment', rows: '3', placeholder: 'Leave a comment. Type @ to mention a contributor.' }),
            mentionList('task-contributors', 'contributors-list', taskContributors(c.body, task)),
            h('button', { type: 'submit', class: 'button', text: 'Comment' }))));
        show(dto.projectInfo.name, main, seq);
      });
    });
  }

  function userNotFound(username, seq) {
    show('User not found', h('main', { id: 'user-profile', class: 'user-profile' },
      h('div', { id: 'user-not-found', class: 'user-not-found' }, h('h1', { text: 'User not found' }),
        h('p', {}, 'No user named ', h('code', { text: username }), '.'))), seq);
  }

  function profilePage(username, seq) {
    var u = encodeURIComponent(username);
    return Promise.all([api('users/queries/' + u + '/'), api('users/' + u + '/openstreetmap/'), api('users/' + u + '/statistics/')]).then(function (r) {
      if (r[0].status !== 200 || r[1].status !== 200 || r[2].status !== 200) return userNotFound(username, seq);
      var level = mapperLevel(r[1].body.changesetCount, r[2].body.tasksMapped);
      show(username, h('main', { id: 'user-profile', class: 'user-profile', 'data-username': r[0].body.username },
        h('h1', { id: 'profile-username', class: 'profile-username', text: r[0].body.username }),
        h('div', { class: 'mapper-level-ctr' }, h('span', { class: 'label', text: 'Mapper level' }), ' ',
          h('span', { id: 'mapper-level', class: 'mapper-level', 'data-level': level, text: capitalised(level) })),
        h('dl', { class: 'user-stats' },
          h('dt', { text: 'Changesets' }), h('dd', { id: 'changeset-count', text: String(r[1].body.changesetCount) }),
          h('dt', { text: 'Tasks mapped' }), h('dd', { id: 'tasks-mapped', text: String(r[2].body.tasksMapped) }),
          h('dt', { text: 'Tasks validated' }), h('dd', { id: 'tasks-validated', text: String(r[2].body.tasksValidated) }),
          h('dt', { text: 'Joined' }), h('dd', { id: 'date-registered', text: r[0].body.dateRegistered }))), seq);
    });
  }

  function pageParam() {
    var v = parseInt(new URLSearchParams(location.search).get('page'), 10);
    return v >= 1 && v <= 100000 ? v : 1;
  }

  /* A form of page buttons, as in the real app; its submit becomes a pushState route. */
  function paginator(page, pages) {
    var ctr = h('div', { class: 'paginator-btn-ctr' });
    for (var p = 1; p <= pages; p++) {
      var b = h('button', { type: 'submit', class: 'paginator-btn', name: 'page', value: String(p), text: String(p) });
      if (p === page) b.setAttribute('aria-current', 'page');
      ctr.appendChild(b);
    }
    var form = h('form', { class: 'paginator', method: 'get', action: '/contributions/tasks' }, ctr);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var value = ev.submitter && ev.submitter.value;
      if (value) navigate('/contributions/tasks?page=' + encodeURIComponent(value), false);
    });
    return form;
  }

  function myTasksPage(seq) {
    var page = pageParam();
    var id = store.getState().auth.userDetails.id;
    return api('users/' + id + '/tasks/?page=' + page + '&page_size=10').then(function (res) {
      var pg = res.body.pagination || { pages: 0, total: 0 };
      var main = h('main', { id: 'my-tasks-page', class: 'my-tasks' }, h('h1', { text: 'My Tasks' }),
        h('p', { id: 'my-tasks-summary' }, h('span', { id: 'my-tasks-total', text: String(pg.total) }), ' tasks, page ',
          h('span', { id: 'my-tasks-page-number', text: String(page) }), ' of ', h('span', { id: 'my-tasks-pages', text: String(pg.pages) })));
      if (pg.total === 0) main.appendChild(h('p', { id: 'my-tasks-empty', text: 'You have not contributed to any task yet.' }));
      var ul = h('ul', { id: 'my-tasks', class: 'task-cards' });
      (res.body.tasks || []).forEach(function (t) {
        ul.appendChild(h('li', { class: 'task-card', 'data-project-id': String(t.projectId), 'data-task-id': String(t.taskId) },
          h('a', { href: '/projects/' + t.projectId + '/tasks/' + t.taskId, text: 'Task #' + t.taskId }), ' ',
          h('span', { class: 'task-status', text: t.taskStatus }), ' ', h('time', { text: t.lastUpdated })));
      });
      main.appendChild(ul);
      /* #6116: 4.6.2's My Tasks lost its paginator: only the first page could be reached. */
      if (pg.pages > 0 && !broken('pagination')) main.appendChild(paginator(page, pg.pages));
      show('My Tasks', main, seq);
    });
  }

  /* ---- routing ---------------------------------------------------------------------- */

  /* Pages that need a session send visitors to log in first, client-side like the real app. */
  function requireLogin(seq) {
    if (loggedIn()) return false;
    navigate('/login?redirect_to=' + encodeURIComponent(location.pathname + location.search), true);
    return true;
  }

  function render() {
    var seq = ++renderSeq;
    var path = location.pathname.replace(/\/+$/, '') || '/';
    var m;
    store.dispatch({ type: 'ROUTE', route: path });
    var done;
    if (path === '/') done = homePage(seq);
    else if (path === '/explore') done = explorePage(seq);
    else if (path === '/login') done = loginPage(seq);
    else if ((m = path.match(/^\/projects\/(\d{1,9})$/))) done = projectPage(+m[1], seq);
    else if ((m = path.match(/^\/projects\/(\d{1,9})\/questions$/))) done = questionsPage(+m[1], seq);
    else if ((m = path.match(/^\/projects\/(\d{1,9})\/tasks\/(\d{1,9})$/))) done = taskPage(+m[1], +m[2], seq);
    else if ((m = path.match(/^\/users\/([^/]+)$/))) done = requireLogin(seq) || profilePage(decodeURIComponent(m[1]), seq);
    else if (path === '/contributions/tasks') done = requireLogin(seq) || myTasksPage(seq);
    else show('Page not found', h('main', { id: 'not-found' }, h('h1', { text: 'Page not found' })), seq);
    Promise.resolve(done).catch(function (e) {
      show('Error', h('main', { id: 'app-error' }, h('h1', { text: 'Something went wrong' }), h('p', { text: String(e) })), seq);
    });
  }

  function navigate(url, replace) {
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    render();
  }

  /* Links of the app change the route without a page load; the API
   * and the RDV-Solidarités admin (a separate, server-rendered app) are real navigations. */
  function onClick(ev) {
    var el = ev.target.closest('a[href]');
    if (!el || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
    var href = el.getAttribute('href');
    if (!href || href.charAt(0) !== '/' || href.charAt(1) === '/' || el.hasAttribute('data-external')) return;
    if (/^\/(api|agents|admin|__demo)(\/|$)/.test(href)) return;
    ev.preventDefault();
    navigate(href, false);
  }

  /* Start: validate the persisted session against the API (the real app reloads the user's
   * details), write the store back to localStorage, then render the route. */
  function start() {
    document.addEventListener('click', onClick);
    window.addEventListener('popstate', render);
    var auth = store.getState().auth;
    if (!auth.token || !auth.username) {
      if (auth.token || auth.userDetails) store.dispatch({ type: 'LOGOUT' });
      persist();
      return render();
    }
    api('users/queries/' + encodeURIComponent(auth.username) + '/').then(function (res) {
      if (res.status === 200) store.dispatch({ type: 'SET_USER_DETAILS', userDetails: res.body });
      else store.dispatch({ type: 'LOGOUT' });
      render();
    }, function () {
      render();
    });
  }

  start();
})();
