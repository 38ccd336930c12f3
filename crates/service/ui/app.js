// The lienthong operator dashboard: a single page in plain JavaScript, embedded in the
// gateway and served under /ui. No framework, no build step, no outside resource.
//
// Sign-in exchanges an operator token for a session cookie (POST /ui/api/session); every
// call to the admin API then sends the cookie, and every state-changing call the session's
// CSRF token (X-CSRF-Token). What a page offers follows the operator's role.
'use strict';

(function () {
  // ---------------------------------------------------------------------------------------
  // Texts, Vietnamese and English
  // ---------------------------------------------------------------------------------------

  const TEXTS = {
    vi: {
      'app.title': 'Liên thông — bảng điều hành',
      'nav.label': 'Trình đơn',
      'nav.overview': 'Tổng quan',
      'nav.queues': 'Hàng đợi',
      'nav.search': 'Tra cứu',
      'nav.stats': 'Thống kê',
      'nav.audit': 'Nhật ký thao tác',
      'lang.label': 'Ngôn ngữ',
      'role.viewer': 'xem',
      'role.operator': 'vận hành',
      'role.admin': 'quản trị',
      'signin.title': 'Đăng nhập',
      'signin.intro': 'Dán mã thông báo (token) vận hành của bạn. Mã chỉ được dùng một lần để mở phiên làm việc; trình duyệt không lưu mã.',
      'signin.token': 'Mã thông báo vận hành',
      'signin.submit': 'Đăng nhập',
      'signin.bad': 'Mã thông báo không hợp lệ hoặc không phải mã của người vận hành.',
      'signin.expired': 'Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại.',
      'signin.out': 'Đăng xuất',
      'signin.signed_out': 'Bạn đã đăng xuất.',
      'common.refresh': 'Làm mới',
      'common.loading': 'Đang tải…',
      'common.none': 'Không có dữ liệu.',
      'common.yes': 'có',
      'common.no': 'không',
      'common.apply': 'Áp dụng',
      'common.cancel': 'Huỷ',
      'common.confirm': 'Xác nhận',
      'common.more': 'Xem thêm',
      'common.any': '(tất cả)',
      'common.updated': 'Cập nhật lúc {time}',
      'error.forbidden': 'Vai trò của bạn không được phép thực hiện thao tác này.',
      'error.csrf': 'Mã chống giả mạo (CSRF) của phiên không hợp lệ. Vui lòng đăng nhập lại.',
      'error.network': 'Không kết nối được tới cổng liên thông.',
      'error.generic': 'Lỗi {status}: {message}',
      'reason.title': 'Lý do',
      'reason.help': 'Lý do được ghi vào nhật ký thao tác.',
      'reason.required': 'Cần nhập lý do.',
      'overview.title': 'Tổng quan',
      'overview.partners': 'Đối tác',
      'overview.last_hour': 'Một giờ qua',
      'overview.messages': 'Thông điệp',
      'overview.failed': 'Lỗi',
      'overview.avg_ms': 'Thời gian trung bình',
      'overview.chart': 'Số thông điệp mỗi 5 phút',
      'overview.queues': 'Độ sâu hàng đợi',
      'overview.parked': 'Thông điệp bị giữ lại',
      'overview.parked_link': 'Xem danh sách',
      'overview.maintenance': 'Chế độ bảo trì',
      'overview.maintenance_on': 'ĐANG BẬT — cổng từ chối hồ sơ mới (503)',
      'overview.maintenance_off': 'Tắt — cổng nhận hồ sơ bình thường',
      'overview.maintenance_turn_on': 'Bật bảo trì',
      'overview.maintenance_turn_off': 'Tắt bảo trì',
      'overview.maintenance_done': 'Đã chuyển chế độ bảo trì.',
      'partner.dvcqg': 'Cổng DVC quốc gia (DVCQG)',
      'partner.vdxp': 'Trục liên thông văn bản (VDXP)',
      'state.up': 'hoạt động',
      'state.degraded': 'suy giảm',
      'state.down': 'ngừng',
      'state.circuit_open': 'ngắt mạch',
      'state.not_configured': 'chưa cấu hình',
      'queues.title': 'Hàng đợi và thông điệp bị giữ lại',
      'queues.routes': 'Theo tuyến',
      'col.route': 'Tuyến',
      'col.partitions': 'Phân vùng',
      'col.ready': 'Chờ xử lý',
      'col.unacked': 'Đang xử lý',
      'col.retrying': 'Chờ thử lại',
      'col.parked': 'Bị giữ',
      'col.consumers': 'Bộ tiêu thụ',
      'col.published': 'Gửi vào/giây',
      'col.acked': 'Xong/giây',
      'col.id': 'Mã thông điệp',
      'col.key': 'Khoá',
      'col.reason': 'Lý do',
      'col.partner_code': 'Mã lỗi đối tác',
      'col.attempts': 'Số lần thử',
      'col.last_error': 'Lỗi gần nhất',
      'col.parked_at': 'Giữ lúc',
      'col.select': 'Chọn',
      'col.actions': 'Thao tác',
      'parked.title': 'Thông điệp bị giữ lại',
      'parked.filter_route': 'Tuyến',
      'parked.filter_partner_code': 'Mã lỗi đối tác',
      'parked.filter_reason': 'Lý do chứa',
      'parked.filter_key': 'Khoá',
      'parked.replay_one': 'Gửi lại',
      'parked.replay_selected': 'Gửi lại mục đã chọn',
      'parked.replay_filter': 'Gửi lại tất cả theo bộ lọc',
      'parked.discard_selected': 'Huỷ bỏ mục đã chọn',
      'parked.none_selected': 'Chưa chọn thông điệp nào.',
      'parked.replayed': 'Đã gửi lại {n} thông điệp.',
      'parked.discarded': 'Đã huỷ bỏ {n} thông điệp.',
      'parked.ask_replay': 'Gửi lại {n} thông điệp',
      'parked.ask_replay_filter': 'Gửi lại mọi thông điệp khớp bộ lọc',
      'parked.ask_replay_all': 'Gửi lại TẤT CẢ thông điệp bị giữ lại',
      'parked.ask_discard': 'Huỷ bỏ {n} thông điệp (không gửi nữa)',
      'parked.viewer_note': 'Vai trò "xem" chỉ được xem; gửi lại và huỷ bỏ cần vai trò vận hành.',
      'search.title': 'Tra cứu và dòng thời gian',
      'search.query': 'Mã hồ sơ hoặc mã văn bản',
      'search.field': 'Tìm theo',
      'search.by_dossier': 'Mã hồ sơ',
      'search.by_doc': 'Mã văn bản',
      'search.partner': 'Đối tác',
      'search.submit': 'Tìm',
      'outcome.pending': 'đang chờ',
      'outcome.accepted': 'được nhận',
      'outcome.rejected': 'bị từ chối',
      'outcome.parked': 'bị giữ lại',
      'outcome.duplicate': 'trùng lặp',
      'search.outcome': 'Kết quả',
      'search.results': 'Thông điệp',
      'search.empty': 'Nhập mã hồ sơ hoặc mã văn bản để tìm.',
      'search.masked': 'Dữ liệu cá nhân được che trong câu trả lời.',
      'col.created_at': 'Tạo lúc',
      'col.finished_at': 'Xong lúc',
      'col.direction': 'Chiều',
      'col.partner': 'Đối tác',
      'col.dossier': 'Hồ sơ',
      'col.doc_id': 'Mã văn bản',
      'col.kind': 'Loại',
      'col.outcome': 'Kết quả',
      'col.answer': 'Trả lời của đối tác',
      'dir.in': 'vào',
      'dir.out': 'ra',
      'timeline.title': 'Dòng thời gian hồ sơ {code}',
      'timeline.none': 'Nhật ký không có thông tin về hồ sơ này.',
      'timeline.entries': 'Sự kiện',
      'timeline.edocs': 'Văn bản và trạng thái',
      'kind.version': 'phiên bản',
      'kind.step': 'bước xử lý',
      'kind.message': 'thông điệp',
      'kind.portal_ack': 'cổng xác nhận',
      'col.at': 'Thời điểm',
      'col.summary': 'Nội dung',
      'col.status_code': 'Mã trạng thái',
      'col.code': 'Số, ký hiệu',
      'col.subject': 'Trích yếu',
      'col.from': 'Từ',
      'col.to': 'Đến',
      'col.state': 'Tình trạng',
      'col.last_status': 'Trạng thái gần nhất',
      'stats.title': 'Thống kê',
      'stats.from': 'Từ ngày',
      'stats.to': 'Đến ngày',
      'stats.by': 'Theo',
      'stats.by_month': 'tháng',
      'stats.by_agency': 'cơ quan',
      'stats.by_department': 'sở, ngành',
      'stats.submit': 'Xem',
      'stats.csv': 'Tải CSV',
      'stats.chart': 'Tiếp nhận và giải quyết đúng hạn',
      'stats.total': 'Tổng cộng',
      'col.label': 'Kỳ / đơn vị',
      'col.received': 'Tiếp nhận',
      'col.resolved': 'Đã giải quyết',
      'col.resolved_on_time': 'Đúng hạn',
      'col.on_time_percent': '% đúng hạn',
      'col.overdue': 'Quá hạn',
      'col.online': 'Trực tuyến',
      'col.online_percent': '% trực tuyến',
      'audit.title': 'Nhật ký thao tác',
      'audit.actor': 'Người thực hiện',
      'audit.action': 'Thao tác',
      'audit.admin_only': 'Chỉ vai trò quản trị được xem nhật ký thao tác.',
      'col.time': 'Thời điểm',
      'col.who': 'Người',
      'col.role': 'Vai trò',
      'col.action': 'Thao tác',
      'col.target': 'Đối tượng',
      'notfound.title': 'Không có trang này.',
    },
    en: {
      'app.title': 'Liên thông — operator dashboard',
      'nav.label': 'Menu',
      'nav.overview': 'Overview',
      'nav.queues': 'Queues',
      'nav.search': 'Search',
      'nav.stats': 'Statistics',
      'nav.audit': 'Audit log',
      'lang.label': 'Language',
      'role.viewer': 'viewer',
      'role.operator': 'operator',
      'role.admin': 'admin',
      'signin.title': 'Sign in',
      'signin.intro': 'Paste your operator token. It is used once to open a session; the browser does not keep it.',
      'signin.token': 'Operator token',
      'signin.submit': 'Sign in',
      'signin.bad': 'Unknown token, or not an operator token.',
      'signin.expired': 'Your session has expired. Please sign in again.',
      'signin.out': 'Sign out',
      'signin.signed_out': 'You are signed out.',
      'common.refresh': 'Refresh',
      'common.loading': 'Loading…',
      'common.none': 'Nothing to show.',
      'common.yes': 'yes',
      'common.no': 'no',
      'common.apply': 'Apply',
      'common.cancel': 'Cancel',
      'common.confirm': 'Confirm',
      'common.more': 'More',
      'common.any': '(any)',
      'common.updated': 'Updated at {time}',
      'error.forbidden': 'Your role does not allow this.',
      'error.csrf': 'The session\'s CSRF token was refused. Please sign in again.',
      'error.network': 'Cannot reach the gateway.',
      'error.generic': 'Error {status}: {message}',
      'reason.title': 'Reason',
      'reason.help': 'The reason is written to the audit log.',
      'reason.required': 'A reason is required.',
      'overview.title': 'Overview',
      'overview.partners': 'Partners',
      'overview.last_hour': 'Last hour',
      'overview.messages': 'Messages',
      'overview.failed': 'Failed',
      'overview.avg_ms': 'Average time',
      'overview.chart': 'Messages per 5 minutes',
      'overview.queues': 'Queue depths',
      'overview.parked': 'Parked messages',
      'overview.parked_link': 'Show the list',
      'overview.maintenance': 'Maintenance mode',
      'overview.maintenance_on': 'ON — the gateway refuses new dossiers (503)',
      'overview.maintenance_off': 'Off — the gateway takes dossiers as usual',
      'overview.maintenance_turn_on': 'Turn maintenance on',
      'overview.maintenance_turn_off': 'Turn maintenance off',
      'overview.maintenance_done': 'Maintenance mode switched.',
      'partner.dvcqg': 'National public service portal (DVCQG)',
      'partner.vdxp': 'National document exchange axis (VDXP)',
      'state.up': 'up',
      'state.degraded': 'degraded',
      'state.down': 'down',
      'state.circuit_open': 'circuit open',
      'state.not_configured': 'not configured',
      'queues.title': 'Queues and parked messages',
      'queues.routes': 'Per route',
      'col.route': 'Route',
      'col.partitions': 'Partitions',
      'col.ready': 'Ready',
      'col.unacked': 'In flight',
      'col.retrying': 'Retrying',
      'col.parked': 'Parked',
      'col.consumers': 'Consumers',
      'col.published': 'In/s',
      'col.acked': 'Done/s',
      'col.id': 'Message id',
      'col.key': 'Key',
      'col.reason': 'Reason',
      'col.partner_code': 'Partner code',
      'col.attempts': 'Attempts',
      'col.last_error': 'Last error',
      'col.parked_at': 'Parked at',
      'col.select': 'Select',
      'col.actions': 'Actions',
      'parked.title': 'Parked messages',
      'parked.filter_route': 'Route',
      'parked.filter_partner_code': 'Partner code',
      'parked.filter_reason': 'Reason contains',
      'parked.filter_key': 'Key',
      'parked.replay_one': 'Replay',
      'parked.replay_selected': 'Replay selected',
      'parked.replay_filter': 'Replay all matching the filter',
      'parked.discard_selected': 'Discard selected',
      'parked.none_selected': 'No message selected.',
      'parked.replayed': '{n} message(s) replayed.',
      'parked.discarded': '{n} message(s) discarded.',
      'parked.ask_replay': 'Replay {n} message(s)',
      'parked.ask_replay_filter': 'Replay every message matching the filter',
      'parked.ask_replay_all': 'Replay ALL parked messages',
      'parked.ask_discard': 'Discard {n} message(s) (never delivered)',
      'parked.viewer_note': 'The viewer role can only look; replay and discard need the operator role.',
      'search.title': 'Search and timeline',
      'search.query': 'Dossier code or document id',
      'search.field': 'Search by',
      'search.by_dossier': 'Dossier code',
      'search.by_doc': 'Document id',
      'search.partner': 'Partner',
      'search.submit': 'Search',
      'outcome.pending': 'pending',
      'outcome.accepted': 'accepted',
      'outcome.rejected': 'rejected',
      'outcome.parked': 'parked',
      'outcome.duplicate': 'duplicate',
      'search.outcome': 'Outcome',
      'search.results': 'Messages',
      'search.empty': 'Enter a dossier code or a document id.',
      'search.masked': 'Personal data is masked in answers.',
      'col.created_at': 'Created',
      'col.finished_at': 'Finished',
      'col.direction': 'Direction',
      'col.partner': 'Partner',
      'col.dossier': 'Dossier',
      'col.doc_id': 'Document id',
      'col.kind': 'Kind',
      'col.outcome': 'Outcome',
      'col.answer': 'Partner answer',
      'dir.in': 'in',
      'dir.out': 'out',
      'timeline.title': 'Timeline of dossier {code}',
      'timeline.none': 'The journal has nothing about this dossier.',
      'timeline.entries': 'Events',
      'timeline.edocs': 'Documents and statuses',
      'kind.version': 'version',
      'kind.step': 'progress step',
      'kind.message': 'message',
      'kind.portal_ack': 'portal ack',
      'col.at': 'At',
      'col.summary': 'Summary',
      'col.status_code': 'Status code',
      'col.code': 'Number',
      'col.subject': 'Subject',
      'col.from': 'From',
      'col.to': 'To',
      'col.state': 'State',
      'col.last_status': 'Last status',
      'stats.title': 'Statistics',
      'stats.from': 'From',
      'stats.to': 'To',
      'stats.by': 'By',
      'stats.by_month': 'month',
      'stats.by_agency': 'agency',
      'stats.by_department': 'department',
      'stats.submit': 'Show',
      'stats.csv': 'Download CSV',
      'stats.chart': 'Received and resolved on time',
      'stats.total': 'Total',
      'col.label': 'Period / unit',
      'col.received': 'Received',
      'col.resolved': 'Resolved',
      'col.resolved_on_time': 'On time',
      'col.on_time_percent': 'On time %',
      'col.overdue': 'Overdue',
      'col.online': 'Online',
      'col.online_percent': 'Online %',
      'audit.title': 'Audit log',
      'audit.actor': 'Actor',
      'audit.action': 'Action',
      'audit.admin_only': 'Only the admin role may read the audit log.',
      'col.time': 'Time',
      'col.who': 'Who',
      'col.role': 'Role',
      'col.action': 'Action',
      'col.target': 'Target',
      'notfound.title': 'No such page.',
    },
  };

  const LANG_KEY = 'lienthong.lang';
  const ROLES = ['viewer', 'operator', 'admin'];
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const OUTCOMES = ['pending', 'accepted', 'rejected', 'parked', 'duplicate'];

  const state = {
    lang: 'vi',
    session: null, // {operator, role, csrf}
    notice: null, // a message for the sign-in page
    generation: 0, // increases with every render: late answers of a left page are dropped
  };

  function t(key, vars) {
    const dict = TEXTS[state.lang] || TEXTS.vi;
    let s = dict[key];
    if (s === undefined) s = TEXTS.vi[key] !== undefined ? TEXTS.vi[key] : key;
    if (vars) {
      for (const k of Object.keys(vars)) s = s.split('{' + k + '}').join(String(vars[k]));
    }
    return s;
  }

  function loadLang() {
    let l = null;
    try {
      l = window.localStorage.getItem(LANG_KEY);
    } catch (_) {
      l = null;
    }
    state.lang = l === 'en' ? 'en' : 'vi';
  }

  function setLang(l) {
    state.lang = l === 'en' ? 'en' : 'vi';
    try {
      window.localStorage.setItem(LANG_KEY, state.lang);
    } catch (_) {
      // Private mode: the choice lasts for this page only.
    }
    render();
  }

  // ---------------------------------------------------------------------------------------
  // DOM helpers
  // ---------------------------------------------------------------------------------------

  // el('div', {id: 'x', class: 'y', onclick: f}, child, 'text', [children])
  function el(tag, attrs) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    for (let i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    for (let i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        node.addEventListener(k.slice(2), v);
      } else if (k === 'testid') {
        node.setAttribute('data-testid', v);
      } else if (v === true) {
        node.setAttribute(k, '');
      } else {
        node.setAttribute(k, String(v));
      }
    }
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      for (const c of child) append(node, c);
    } else if (typeof child === 'string' || typeof child === 'number') {
      node.appendChild(document.createTextNode(String(child)));
    } else {
      node.appendChild(child);
    }
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function $(id) {
    return document.getElementById(id);
  }

  function fmtTime(s) {
    if (!s) return '';
    const d = new Date(s);
    if (isNaN(d.getTime())) return String(s);
    return d.toLocaleString(state.lang === 'vi' ? 'vi-VN' : 'en-GB', {
      year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  }

  function fmtClock(s) {
    const d = new Date(s);
    if (isNaN(d.getTime())) return '';
    return d.toLocaleTimeString(state.lang === 'vi' ? 'vi-VN' : 'en-GB', {
      hour: '2-digit', minute: '2-digit',
    });
  }

  function fmtNum(n, digits) {
    if (n === null || n === undefined || n === '') return '—';
    const x = Number(n);
    if (!isFinite(x)) return String(n);
    return x.toLocaleString(state.lang === 'vi' ? 'vi-VN' : 'en-GB', {
      maximumFractionDigits: digits === undefined ? 0 : digits,
    });
  }

  function fmtPercent(n) {
    return n === null || n === undefined ? '—' : fmtNum(n, 1) + ' %';
  }

  function fmtMs(n) {
    return n === null || n === undefined ? '—' : fmtNum(n, 0) + ' ms';
  }

  // A table: columns [{key: 'col.x', cell: row => node|text, cls}], rows.
  function table(id, columns, rows, rowAttrs) {
    const head = el('tr', null, columns.map(c => el('th', { scope: 'col', class: c.cls }, c.head || t(c.key))));
    const body = el('tbody', null, rows.map((r, i) =>
      el('tr', rowAttrs ? rowAttrs(r, i) : null, columns.map(c => el('td', { class: c.cls }, c.cell(r, i))))));
    const tbl = el('table', { id: id, testid: id, class: 'grid' }, el('thead', null, head), body);
    if (rows.length === 0) {
      body.appendChild(el('tr', { class: 'empty' }, el('td', { colspan: columns.length }, t('common.none'))));
    }
    return el('div', { class: 'table-wrap' }, tbl);
  }

  function section(id, title) {
    const s = el('section', { id: id, testid: id, class: 'card' });
    if (title) s.appendChild(el('h2', null, title));
    for (let i = 2; i < arguments.length; i++) append(s, arguments[i]);
    return s;
  }

  function hasRole(role) {
    if (!state.session) return false;
    return ROLES.indexOf(state.session.role) >= ROLES.indexOf(role);
  }

  // ---------------------------------------------------------------------------------------
  // The API
  // ---------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, error, message) {
      super(message || error || String(status));
      this.status = status;
      this.error = error;
    }
  }

  async function api(method, url, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && state.session && state.session.csrf) {
      headers['X-CSRF-Token'] = state.session.csrf;
    }
    let resp;
    try {
      resp = await fetch(url, {
        method: method,
        credentials: 'same-origin',
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'network', t('error.network'));
    }
    if (resp.status === 204) return null;
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = null;
    }
    if (!resp.ok) {
      const err = new ApiError(resp.status, data && data.error, (data && data.message) || text || resp.statusText);
      if (resp.status === 401 && url.indexOf('/ui/api/session') !== 0) {
        // The session ended: back to the sign-in page.
        state.session = null;
        state.notice = t('signin.expired');
        render();
      }
      throw err;
    }
    return data;
  }

  function errorText(e) {
    if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
    if (e.status === 0) return t('error.network');
    if (e.status === 403 && e.error === 'csrf') return t('error.csrf');
    if (e.status === 403) return t('error.forbidden');
    return t('error.generic', { status: e.status, message: e.message });
  }

  function errorBox(id, e) {
    return el('div', { id: id, testid: id, class: 'error', role: 'alert' }, errorText(e));
  }

  function qs(params) {
    const parts = [];
    for (const k of Object.keys(params)) {
      const v = params[k];
      if (v === null || v === undefined || v === '') continue;
      parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(v));
    }
    return parts.length ? '?' + parts.join('&') : '';
  }

  // ---------------------------------------------------------------------------------------
  // The reason dialog
  // ---------------------------------------------------------------------------------------

  // Asks for a reason; resolves to the trimmed text, or null when cancelled.
  function askReason(title) {
    return new Promise(resolve => {
      const backdrop = $('dialog');
      clear(backdrop);
      const input = el('textarea', { id: 'reason-input', testid: 'reason-input', rows: 3, 'aria-describedby': 'reason-help' });
      const problem = el('p', { id: 'reason-error', testid: 'reason-error', class: 'error', role: 'alert', hidden: true });
      const done = value => {
        backdrop.hidden = true;
        clear(backdrop);
        document.removeEventListener('keydown', onKey);
        resolve(value);
      };
      const ok = () => {
        const v = input.value.trim();
        if (!v) {
          problem.textContent = t('reason.required');
          problem.hidden = false;
          input.focus();
          return;
        }
        done(v);
      };
      const onKey = ev => {
        if (ev.key === 'Escape') done(null);
      };
      const box = el('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'reason-title' },
        el('h2', { id: 'reason-title', testid: 'reason-title' }, title),
        el('label', { for: 'reason-input' }, t('reason.title')),
        input,
        el('p', { id: 'reason-help', class: 'muted' }, t('reason.help')),
        problem,
        el('div', { class: 'buttons' },
          el('button', { type: 'button', id: 'reason-cancel', testid: 'reason-cancel', onclick: () => done(null) }, t('common.cancel')),
          el('button', { type: 'button', id: 'reason-ok', testid: 'reason-ok', class: 'primary', onclick: ok }, t('common.confirm'))));
      backdrop.appendChild(box);
      backdrop.hidden = false;
      document.addEventListener('keydown', onKey);
      input.focus();
    });
  }

  // ---------------------------------------------------------------------------------------
  // Frame: header, navigation, routing
  // ---------------------------------------------------------------------------------------

  const PAGES = [
    { route: 'overview', key: 'nav.overview', role: 'viewer', render: renderOverview },
    { route: 'queues', key: 'nav.queues', role: 'viewer', render: renderQueues },
    { route: 'search', key: 'nav.search', role: 'viewer', render: renderSearch },
    { route: 'stats', key: 'nav.stats', role: 'viewer', render: renderStats },
    { route: 'audit', key: 'nav.audit', role: 'admin', render: renderAudit },
  ];

  // The hash as {route, params}: '#/search?dossier=X' → {route: 'search', params: {dossier: 'X'}}.
  function currentRoute() {
    const h = window.location.hash.replace(/^#\/?/, '');
    const q = h.indexOf('?');
    const route = (q < 0 ? h : h.slice(0, q)) || 'overview';
    const params = {};
    if (q >= 0) {
      for (const part of h.slice(q + 1).split('&')) {
        if (!part) continue;
        const eq = part.indexOf('=');
        const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
        params[k] = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
      }
    }
    return { route: route, params: params };
  }

  function renderFrame(route) {
    document.documentElement.lang = state.lang;
    document.title = t('app.title');
    const nav = $('nav');
    clear(nav);
    nav.setAttribute('aria-label', t('nav.label'));
    if (state.session) {
      for (const p of PAGES) {
        if (!hasRole(p.role)) continue;
        nav.appendChild(el('a', {
          href: '#/' + p.route, id: 'nav-' + p.route, testid: 'nav-' + p.route,
          class: p.route === route ? 'active' : null,
          'aria-current': p.route === route ? 'page' : null,
        }, t(p.key)));
      }
    }
    const who = $('who');
    clear(who);
    if (state.session) {
      who.appendChild(el('span', { id: 'who-name', testid: 'who-name' }, state.session.operator));
      who.appendChild(el('span', { id: 'who-role', testid: 'who-role', class: 'role role-' + state.session.role },
        t('role.' + state.session.role)));
      who.appendChild(el('button', { type: 'button', id: 'signout', testid: 'signout', onclick: signOut }, t('signin.out')));
    }
    const lang = $('lang');
    lang.setAttribute('aria-label', t('lang.label'));
    for (const b of lang.querySelectorAll('button')) {
      const on = b.getAttribute('data-lang') === state.lang;
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
      b.classList.toggle('active', on);
    }
  }

  function render() {
    state.generation++;
    const r = currentRoute();
    const main = $('main');
    clear(main);
    if (!state.session) {
      renderFrame(null);
      renderSignIn(main);
      return;
    }
    renderFrame(r.route);
    const page = PAGES.find(p => p.route === r.route);
    if (!page) {
      main.appendChild(el('section', { id: 'page-notfound', testid: 'page-notfound', class: 'card' }, el('h1', null, t('notfound.title'))));
      return;
    }
    if (!hasRole(page.role)) {
      main.appendChild(el('section', { id: 'page-' + page.route, testid: 'page-' + page.route, class: 'page' },
        el('h1', null, t(page.key)),
        el('div', { id: 'page-error', testid: 'page-error', class: 'error', role: 'alert' },
          page.route === 'audit' ? t('audit.admin_only') : t('error.forbidden'))));
      return;
    }
    page.render(main, r.params, state.generation);
  }

  // Whether the page that started a request is still shown.
  function current(gen) {
    return gen === state.generation;
  }

  function pageShell(main, route, titleKey, onRefresh) {
    const status = el('span', { id: 'page-updated', testid: 'page-updated', class: 'muted' });
    const head = el('div', { class: 'page-head' },
      el('h1', { id: 'page-title', testid: 'page-title' }, t(titleKey)),
      status,
      onRefresh ? el('button', { type: 'button', id: 'refresh', testid: 'refresh', onclick: onRefresh }, t('common.refresh')) : null);
    const body = el('div', { id: route + '-body', class: 'page-body' }, el('p', { class: 'muted' }, t('common.loading')));
    const page = el('section', { id: 'page-' + route, testid: 'page-' + route, class: 'page' }, head,
      el('div', { id: 'page-message', testid: 'page-message', class: 'message', role: 'status', hidden: true }),
      body);
    main.appendChild(page);
    return { body: body, status: status };
  }

  function stamp(shell) {
    shell.status.textContent = t('common.updated', { time: fmtTime(new Date().toISOString()) });
  }

  function showMessage(text, isError) {
    const m = $('page-message');
    if (!m) return;
    m.textContent = text;
    m.className = isError ? 'message error' : 'message ok';
    m.setAttribute('role', isError ? 'alert' : 'status');
    m.hidden = false;
  }

  // ---------------------------------------------------------------------------------------
  // Sign-in
  // ---------------------------------------------------------------------------------------

  function renderSignIn(main) {
    const input = el('input', {
      type: 'password', id: 'signin-token', testid: 'signin-token', name: 'token',
      autocomplete: 'off', spellcheck: 'false', required: true,
    });
    const error = el('div', { id: 'signin-error', testid: 'signin-error', class: 'error', role: 'alert', hidden: true });
    const notice = el('div', { id: 'signin-notice', testid: 'signin-notice', class: 'message', role: 'status', hidden: !state.notice },
      state.notice || '');
    const form = el('form', { id: 'signin-form', testid: 'signin-form', class: 'signin', autocomplete: 'off' },
      el('h1', null, t('signin.title')),
      el('p', { class: 'muted' }, t('signin.intro')),
      notice,
      el('label', { for: 'signin-token' }, t('signin.token')),
      input,
      error,
      el('button', { type: 'submit', id: 'signin-submit', testid: 'signin-submit', class: 'primary' }, t('signin.submit')));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      error.hidden = true;
      const token = input.value.trim();
      if (!token) {
        error.textContent = t('signin.bad');
        error.hidden = false;
        return;
      }
      try {
        state.session = await api('POST', '/ui/api/session', { token: token });
        state.notice = null;
        input.value = '';
        const r = currentRoute();
        if (!PAGES.find(p => p.route === r.route && hasRole(p.role))) {
          window.location.hash = '#/overview';
        }
        render();
      } catch (e) {
        error.textContent = e.status === 401 || e.status === 403 ? t('signin.bad') : errorText(e);
        error.hidden = false;
        input.select();
      }
    });
    main.appendChild(el('section', { id: 'page-signin', testid: 'page-signin', class: 'page' }, form));
    input.focus();
  }

  async function signOut() {
    try {
      await api('DELETE', '/ui/api/session');
    } catch (_) {
      // Signed out here whatever the gateway says.
    }
    state.session = null;
    state.notice = t('signin.signed_out');
    render();
  }

  // ---------------------------------------------------------------------------------------
  // Overview
  // ---------------------------------------------------------------------------------------

  function renderOverview(main, _params, gen) {
    const shell = pageShell(main, 'overview', 'overview.title', () => render());
    api('GET', '/v1/admin/overview').then(o => {
      if (!current(gen)) return;
      clear(shell.body);
      stamp(shell);
      shell.body.appendChild(el('div', { class: 'row' },
        section('partner-cards', t('overview.partners'), el('div', { class: 'cards' },
          (o.partners || []).map(p => el('div', {
            class: 'partner state-' + p.state, testid: 'partner-' + p.partner, id: 'partner-' + p.partner,
            'data-state': p.state,
          },
          el('div', { class: 'partner-name' }, t('partner.' + p.partner)),
          el('div', { class: 'partner-state', testid: 'partner-state' }, el('span', { class: 'dot' }), t('state.' + p.state)),
          p.detail ? el('div', { class: 'partner-detail muted' }, p.detail) : null)))),
        maintenanceCard(o.maintenance)));
      const lh = o.last_hour || { buckets: [] };
      shell.body.appendChild(section('last-hour', t('overview.last_hour'),
        el('div', { class: 'figures' },
          figure('figure-messages', t('overview.messages'), fmtNum(lh.messages)),
          figure('figure-failed', t('overview.failed'), fmtNum(lh.failed), lh.failed > 0 ? 'bad' : null),
          figure('figure-avg', t('overview.avg_ms'), fmtMs(lh.avg_ms)),
          figure('figure-parked', t('overview.parked'), fmtNum(o.parked), o.parked > 0 ? 'bad' : null,
            el('a', { href: '#/queues', id: 'overview-parked-link', testid: 'overview-parked-link' }, t('overview.parked_link')))),
        el('h3', null, t('overview.chart')),
        lastHourChart(lh.buckets || [])));
      shell.body.appendChild(section('overview-queues-card', t('overview.queues'),
        queueTable('overview-queues', o.queues || [], true)));
    }).catch(e => {
      if (!current(gen)) return;
      clear(shell.body);
      shell.body.appendChild(errorBox('page-error', e));
    });
  }

  function figure(id, label, value, cls, extra) {
    return el('div', { class: 'figure ' + (cls || ''), id: id, testid: id },
      el('div', { class: 'figure-label' }, label),
      el('div', { class: 'figure-value' }, value),
      extra || null);
  }

  function maintenanceCard(on) {
    const card = section('maintenance', t('overview.maintenance'),
      el('p', { id: 'maintenance-state', testid: 'maintenance-state', class: on ? 'bad' : 'good', 'data-on': on ? 'true' : 'false' },
        on ? t('overview.maintenance_on') : t('overview.maintenance_off')));
    if (hasRole('admin')) {
      card.appendChild(el('button', {
        type: 'button', id: 'maintenance-toggle', testid: 'maintenance-toggle', class: on ? 'primary' : 'danger',
        onclick: async () => {
          const label = on ? t('overview.maintenance_turn_off') : t('overview.maintenance_turn_on');
          const why = await askReason(label);
          if (why === null) return;
          try {
            await api('POST', '/v1/admin/maintenance', { on: !on, reason: why });
            render();
            showMessage(t('overview.maintenance_done'));
          } catch (e) {
            showMessage(errorText(e), true);
          }
        },
      }, on ? t('overview.maintenance_turn_off') : t('overview.maintenance_turn_on')));
    }
    return card;
  }

  // The top of a scale of `ticks` whole steps covering `max`.
  function scaleTop(max, ticks) {
    const step = Math.max(1, Math.ceil(max / ticks));
    return step * ticks;
  }

  // Bars of messages (failed in red on top of them) per bucket.
  function lastHourChart(buckets) {
    const W = 720, H = 200, left = 40, bottom = 24, top = 10;
    const plotH = H - bottom - top;
    const max = scaleTop(Math.max(0, ...buckets.map(b => b.messages || 0)), 2);
    const n = Math.max(buckets.length, 1);
    const slot = (W - left - 10) / n;
    const bar = Math.max(4, slot * 0.7);
    const chart = svg('svg', {
      id: 'chart-last-hour', 'data-testid': 'chart-last-hour', class: 'chart', viewBox: '0 0 ' + W + ' ' + H,
      role: 'img', 'aria-label': t('overview.chart'),
    });
    // Axis and scale.
    chart.appendChild(svg('line', { x1: left, y1: top + plotH, x2: W - 5, y2: top + plotH, class: 'axis' }));
    for (const f of [0, 0.5, 1]) {
      const y = top + plotH - f * plotH;
      chart.appendChild(svg('line', { x1: left, y1: y, x2: W - 5, y2: y, class: 'gridline' }));
      chart.appendChild(svg('text', { x: left - 6, y: y + 4, class: 'tick', 'text-anchor': 'end' }, fmtNum(Math.round(f * max))));
    }
    buckets.forEach((b, i) => {
      const x = left + i * slot + (slot - bar) / 2;
      const h = ((b.messages || 0) / max) * plotH;
      const fh = ((b.failed || 0) / max) * plotH;
      const title = fmtClock(b.start) + ' — ' + t('overview.messages') + ': ' + fmtNum(b.messages) + ', ' +
        t('overview.failed') + ': ' + fmtNum(b.failed) + ', ' + t('overview.avg_ms') + ': ' + fmtMs(b.avg_ms);
      const g = svg('g', { class: 'bucket', 'data-testid': 'chart-bucket' }, svg('title', null, title));
      g.appendChild(svg('rect', { x: x, y: top + plotH - h, width: bar, height: Math.max(h, 0), class: 'bar' }));
      if (fh > 0) g.appendChild(svg('rect', { x: x, y: top + plotH - fh, width: bar, height: fh, class: 'bar-failed' }));
      chart.appendChild(g);
      if (i % 3 === 0) {
        chart.appendChild(svg('text', { x: x + bar / 2, y: H - 6, class: 'tick', 'text-anchor': 'middle' }, fmtClock(b.start)));
      }
    });
    return el('div', { class: 'chart-wrap' }, chart,
      el('div', { class: 'legend' },
        el('span', { class: 'swatch bar' }), t('overview.messages'),
        el('span', { class: 'swatch bar-failed' }), t('overview.failed')));
  }

  function queueTable(id, queues, brief) {
    const cols = [
      { key: 'col.route', cell: q => el('code', null, q.route) },
    ];
    if (!brief) cols.push({ key: 'col.partitions', cls: 'num', cell: q => fmtNum(q.partitions) });
    cols.push(
      { key: 'col.ready', cls: 'num', cell: q => fmtNum(q.ready) },
      { key: 'col.unacked', cls: 'num', cell: q => fmtNum(q.unacked) },
      { key: 'col.retrying', cls: 'num', cell: q => fmtNum(q.waiting_retry) },
      { key: 'col.parked', cls: 'num', cell: q => el('span', { class: q.parked > 0 ? 'bad' : null }, fmtNum(q.parked)) },
      { key: 'col.consumers', cls: 'num', cell: q => fmtNum(q.consumers) });
    if (!brief) {
      cols.push(
        { key: 'col.published', cls: 'num', cell: q => fmtNum(q.published_per_s, 2) },
        { key: 'col.acked', cls: 'num', cell: q => fmtNum(q.acked_per_s, 2) });
    }
    return table(id, cols, queues, q => ({ 'data-route': q.route, testid: 'queue-row' }));
  }

  // ---------------------------------------------------------------------------------------
  // Queues and parked messages
  // ---------------------------------------------------------------------------------------

  function renderQueues(main, params, gen) {
    const shell = pageShell(main, 'queues', 'queues.title', () => render());
    const filter = {
      route: params.route || '',
      partner_code: params.partner_code || '',
      reason: params.reason || '',
      key: params.key || '',
    };
    Promise.all([
      api('GET', '/v1/admin/queues'),
      api('GET', '/v1/admin/parked' + qs(Object.assign({ limit: 200 }, filter))),
    ]).then(([q, p]) => {
      if (!current(gen)) return;
      clear(shell.body);
      stamp(shell);
      const queues = q.queues || [];
      shell.body.appendChild(section('queues-card', t('queues.routes'), queueTable('queues-table', queues, false)));
      shell.body.appendChild(parkedSection(queues, p.parked || [], filter));
    }).catch(e => {
      if (!current(gen)) return;
      clear(shell.body);
      shell.body.appendChild(errorBox('page-error', e));
    });
  }

  function parkedSection(queues, parked, filter) {
    const canAct = hasRole('operator');
    const routeSelect = el('select', { id: 'parked-filter-route', testid: 'parked-filter-route', name: 'route' },
      el('option', { value: '' }, t('common.any')),
      queues.map(q => el('option', { value: q.route, selected: q.route === filter.route }, q.route)));
    const input = (id, name, value) => el('input', { id: id, testid: id, name: name, value: value, type: 'text' });
    const fPartner = input('parked-filter-partner-code', 'partner_code', filter.partner_code);
    const fReason = input('parked-filter-reason', 'reason', filter.reason);
    const fKey = input('parked-filter-key', 'key', filter.key);
    const form = el('form', { id: 'parked-filter', testid: 'parked-filter', class: 'filters' },
      field(t('parked.filter_route'), routeSelect),
      field(t('parked.filter_partner_code'), fPartner),
      field(t('parked.filter_reason'), fReason),
      field(t('parked.filter_key'), fKey),
      el('button', { type: 'submit', id: 'parked-filter-apply', testid: 'parked-filter-apply' }, t('common.apply')));
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      window.location.hash = '#/queues' + qs({
        route: routeSelect.value, partner_code: fPartner.value.trim(),
        reason: fReason.value.trim(), key: fKey.value.trim(),
      });
    });

    const cols = [];
    if (canAct) {
      cols.push({
        head: el('input', {
          type: 'checkbox', id: 'parked-check-all', testid: 'parked-check-all', 'aria-label': t('col.select'),
          onchange: ev => {
            for (const c of document.querySelectorAll('input[data-testid="parked-check"]')) c.checked = ev.target.checked;
          },
        }),
        cell: m => el('input', {
          type: 'checkbox', testid: 'parked-check', 'data-route': m.route, 'data-id': m.id,
          'aria-label': t('col.select') + ' ' + m.id,
        }),
      });
    }
    cols.push(
      { key: 'col.id', cell: m => el('code', null, m.id) },
      { key: 'col.route', cell: m => el('code', null, m.route) },
      { key: 'col.key', cell: m => m.key },
      { key: 'col.reason', cls: 'wrap', cell: m => m.reason },
      { key: 'col.partner_code', cell: m => m.partner_code ? el('code', { class: 'bad' }, m.partner_code) : '—' },
      { key: 'col.attempts', cls: 'num', cell: m => fmtNum(m.attempts) },
      { key: 'col.last_error', cls: 'wrap', cell: m => (m.last_error && m.last_error !== m.reason ? m.last_error : '—') },
      { key: 'col.parked_at', cell: m => fmtTime(m.parked_at) });
    if (canAct) {
      cols.push({
        key: 'col.actions',
        cell: m => el('button', {
          type: 'button', class: 'small', testid: 'replay-one', 'data-id': m.id,
          onclick: () => act('replay', [{ route: m.route, id: m.id }]),
        }, t('parked.replay_one')),
      });
    }
    const list = table('parked-table', cols, parked, m => ({ testid: 'parked-row', 'data-id': m.id, 'data-route': m.route }));

    const selected = () => Array.from(document.querySelectorAll('input[data-testid="parked-check"]:checked'))
      .map(c => ({ route: c.getAttribute('data-route'), id: c.getAttribute('data-id') }));
    const actions = canAct
      ? el('div', { id: 'parked-actions', testid: 'parked-actions', class: 'buttons' },
        el('button', {
          type: 'button', id: 'replay-selected', testid: 'replay-selected', class: 'primary',
          onclick: () => act('replay', selected()),
        }, t('parked.replay_selected')),
        el('button', {
          type: 'button', id: 'replay-filter', testid: 'replay-filter',
          onclick: () => actFilter(filter),
        }, t('parked.replay_filter')),
        el('button', {
          type: 'button', id: 'discard-selected', testid: 'discard-selected', class: 'danger',
          onclick: () => act('discard', selected()),
        }, t('parked.discard_selected')))
      : el('p', { id: 'parked-viewer-note', testid: 'parked-viewer-note', class: 'muted' }, t('parked.viewer_note'));
    return section('parked-card', t('parked.title') + ' (' + parked.length + ')', form, actions, list);
  }

  function field(label, control) {
    return el('label', { class: 'field' }, el('span', null, label), control);
  }

  // Replays or discards the messages named, one request each, after asking for a reason.
  async function act(what, items) {
    if (items.length === 0) {
      showMessage(t('parked.none_selected'), true);
      return;
    }
    const title = what === 'replay' ? t('parked.ask_replay', { n: items.length }) : t('parked.ask_discard', { n: items.length });
    const why = await askReason(title);
    if (why === null) return;
    let done = 0;
    try {
      for (const m of items) {
        const r = await api('POST', '/v1/admin/parked/' + what, { route: m.route, id: m.id, reason: why });
        done += (r && (r.replayed || r.discarded)) || 0;
      }
    } catch (e) {
      render();
      showMessage(errorText(e), true);
      return;
    }
    render();
    showMessage(t(what === 'replay' ? 'parked.replayed' : 'parked.discarded', { n: done }));
  }

  async function actFilter(filter) {
    const f = {};
    if (filter.route) f.route = filter.route;
    if (filter.partner_code) f.partner_code = filter.partner_code;
    if (filter.reason) f.reason_contains = filter.reason;
    if (filter.key) f.key = filter.key;
    const all = Object.keys(f).length === 0;
    const why = await askReason(all ? t('parked.ask_replay_all') : t('parked.ask_replay_filter'));
    if (why === null) return;
    try {
      const body = all ? { all: true, reason: why } : { filter: f, reason: why };
      const r = await api('POST', '/v1/admin/parked/replay', body);
      render();
      showMessage(t('parked.replayed', { n: (r && r.replayed) || 0 }));
    } catch (e) {
      showMessage(errorText(e), true);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Search and timeline
  // ---------------------------------------------------------------------------------------

  function renderSearch(main, params, gen) {
    const shell = pageShell(main, 'search', 'search.title', null);
    clear(shell.body);
    const byDoc = !!params.doc_id && !params.dossier;
    const query = el('input', {
      type: 'search', id: 'search-input', testid: 'search-input', name: 'q',
      value: params.dossier || params.doc_id || '', placeholder: t('search.query'), 'aria-label': t('search.query'),
    });
    const by = el('select', { id: 'search-field', testid: 'search-field', 'aria-label': t('search.field') },
      el('option', { value: 'dossier', selected: !byDoc }, t('search.by_dossier')),
      el('option', { value: 'doc_id', selected: byDoc }, t('search.by_doc')));
    const partner = el('select', { id: 'search-partner', testid: 'search-partner' },
      el('option', { value: '' }, t('common.any')),
      ['dvcqg', 'vdxp'].map(p => el('option', { value: p, selected: params.partner === p }, p.toUpperCase())));
    const outcome = el('select', { id: 'search-outcome', testid: 'search-outcome' },
      el('option', { value: '' }, t('common.any')),
      OUTCOMES.map(o => el('option', { value: o, selected: params.outcome === o }, t('outcome.' + o))));
    const form = el('form', { id: 'search-form', testid: 'search-form', class: 'filters' },
      field(t('search.field'), by),
      field(t('search.query'), query),
      field(t('search.partner'), partner),
      field(t('search.outcome'), outcome),
      el('button', { type: 'submit', id: 'search-submit', testid: 'search-submit', class: 'primary' }, t('search.submit')));
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      const v = query.value.trim();
      const p = { partner: partner.value, outcome: outcome.value };
      p[by.value] = v;
      window.location.hash = '#/search' + qs(p);
    });
    shell.body.appendChild(section('search-card', null, form, el('p', { class: 'muted' }, t('search.masked'))));
    const results = el('div', { id: 'search-results-wrap' });
    const timeline = el('div', { id: 'timeline-wrap' });
    shell.body.appendChild(results);
    shell.body.appendChild(timeline);
    query.focus();
    const q = { dossier: params.dossier, doc_id: params.doc_id, partner: params.partner, outcome: params.outcome };
    if (!q.dossier && !q.doc_id) {
      results.appendChild(el('p', { id: 'search-empty', testid: 'search-empty', class: 'muted' }, t('search.empty')));
      return;
    }
    loadResults(results, q, null, gen, shell);
    if (q.dossier) loadTimeline(timeline, q.dossier, gen);
  }

  function loadResults(wrap, q, cursor, gen, shell, rows) {
    const all = rows || [];
    api('GET', '/v1/admin/search' + qs(Object.assign({ limit: 50, cursor: cursor }, q))).then(r => {
      if (!current(gen)) return;
      stamp(shell);
      const list = all.concat(r.messages || []);
      clear(wrap);
      const cols = [
        { key: 'col.created_at', cell: m => fmtTime(m.created_at) },
        { key: 'col.direction', cell: m => m.direction ? t('dir.' + m.direction) : '—' },
        { key: 'col.partner', cell: m => (m.partner || '—').toUpperCase() },
        { key: 'col.route', cell: m => el('code', null, m.route || '—') },
        {
          key: 'col.dossier',
          cell: m => m.dossier_code
            ? el('a', { href: '#/search' + qs({ dossier: m.dossier_code }), testid: 'result-dossier' }, m.dossier_code)
            : '—',
        },
        { key: 'col.doc_id', cell: m => m.doc_id || '—' },
        { key: 'col.kind', cls: 'wrap', cell: m => m.kind || '—' },
        {
          key: 'col.outcome',
          cell: m => el('span', {
            class: 'outcome outcome-' + m.outcome,
            title: m.finished_at ? t('col.finished_at') + ': ' + fmtTime(m.finished_at) : null,
          }, m.outcome ? t('outcome.' + m.outcome) : '—'),
        },
        { key: 'col.attempts', cls: 'num', cell: m => fmtNum(m.attempts) },
        {
          key: 'col.answer', cls: 'wrap',
          cell: m => [m.answer_code ? el('code', null, m.answer_code) : null, m.answer_code && m.answer_message ? ' ' : null,
            m.answer_message || (m.answer_code ? null : '—')],
        },
      ];
      wrap.appendChild(section('search-results-card', t('search.results') + ' (' + list.length + ')',
        table('search-results', cols, list, m => ({ testid: 'search-row', 'data-id': m.id })),
        r.next ? el('button', {
          type: 'button', id: 'search-more', testid: 'search-more',
          onclick: () => loadResults(wrap, q, r.next, gen, shell, list),
        }, t('common.more')) : null));
    }).catch(e => {
      if (!current(gen)) return;
      clear(wrap);
      wrap.appendChild(errorBox('search-error', e));
    });
  }

  function loadTimeline(wrap, code, gen) {
    api('GET', '/v1/admin/dossiers/' + encodeURIComponent(code) + '/timeline').then(tl => {
      if (!current(gen)) return;
      clear(wrap);
      const entries = el('ol', { id: 'timeline-entries', testid: 'timeline-entries', class: 'timeline' },
        (tl.entries || []).map(e => el('li', { class: 'tl tl-' + e.kind, testid: 'timeline-entry', 'data-kind': e.kind },
          el('time', { datetime: e.at }, fmtTime(e.at)),
          el('span', { class: 'badge badge-' + e.kind }, t('kind.' + e.kind)),
          el('span', { class: 'summary' }, e.summary),
          e.message_id ? el('code', { class: 'muted' }, e.message_id) : null)));
      if (!(tl.entries || []).length) entries.appendChild(el('li', { class: 'muted' }, t('common.none')));
      const edocs = table('timeline-edocs', [
        { key: 'col.created_at', cell: d => fmtTime(d.created_at) },
        { key: 'col.direction', cell: d => d.direction ? t('dir.' + d.direction) : '—' },
        { key: 'col.kind', cell: d => d.kind || '—' },
        { key: 'col.doc_id', cell: d => el('code', null, d.document_id || '—') },
        { key: 'col.status_code', cell: d => d.status_code || '—' },
        { key: 'col.code', cell: d => d.code || '—' },
        { key: 'col.subject', cls: 'wrap', cell: d => d.subject || '—' },
        { key: 'col.from', cell: d => d.from || '—' },
        { key: 'col.to', cell: d => Array.isArray(d.to) ? d.to.join(', ') : (d.to || '—') },
        { key: 'col.state', cell: d => d.state || '—' },
        { key: 'col.last_status', cell: d => d.last_status || '—' },
      ], tl.edocs || [], d => ({ testid: 'timeline-edoc', 'data-id': d.id }));
      wrap.appendChild(section('timeline', t('timeline.title', { code: tl.code || code }),
        el('h3', null, t('timeline.entries')), entries,
        el('h3', null, t('timeline.edocs')), edocs));
    }).catch(e => {
      if (!current(gen)) return;
      clear(wrap);
      wrap.appendChild(e.status === 404
        ? el('div', { id: 'timeline-none', testid: 'timeline-none', class: 'message' }, t('timeline.none'))
        : errorBox('timeline-error', e));
    });
  }

  // ---------------------------------------------------------------------------------------
  // Statistics
  // ---------------------------------------------------------------------------------------

  function isoDate(d) {
    const p = n => (n < 10 ? '0' : '') + n;
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate());
  }

  function renderStats(main, params, gen) {
    const shell = pageShell(main, 'stats', 'stats.title', () => render());
    clear(shell.body);
    const today = new Date();
    const q = {
      from: params.from || isoDate(new Date(today.getFullYear(), 0, 1)),
      to: params.to || isoDate(today),
      by: ['month', 'agency', 'department'].indexOf(params.by) >= 0 ? params.by : 'month',
    };
    const from = el('input', { type: 'date', id: 'stats-from', testid: 'stats-from', value: q.from, required: true });
    const to = el('input', { type: 'date', id: 'stats-to', testid: 'stats-to', value: q.to, required: true });
    const by = el('select', { id: 'stats-by', testid: 'stats-by' },
      ['month', 'agency', 'department'].map(b => el('option', { value: b, selected: b === q.by }, t('stats.by_' + b))));
    const csv = el('a', {
      id: 'stats-csv', testid: 'stats-csv', class: 'button', download: 'lienthong-report-' + q.from + '-' + q.to + '.csv',
      href: '/v1/admin/report' + qs({ from: q.from, to: q.to, by: q.by, format: 'csv' }),
    }, t('stats.csv'));
    const form = el('form', { id: 'stats-form', testid: 'stats-form', class: 'filters' },
      field(t('stats.from'), from), field(t('stats.to'), to), field(t('stats.by'), by),
      el('button', { type: 'submit', id: 'stats-submit', testid: 'stats-submit', class: 'primary' }, t('stats.submit')),
      csv);
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      window.location.hash = '#/stats' + qs({ from: from.value, to: to.value, by: by.value });
    });
    shell.body.appendChild(section('stats-card', null, form));
    const out = el('div', { id: 'stats-out' }, el('p', { class: 'muted' }, t('common.loading')));
    shell.body.appendChild(out);
    api('GET', '/v1/admin/report' + qs(q)).then(r => {
      if (!current(gen)) return;
      stamp(shell);
      clear(out);
      const rows = r.rows || [];
      const cols = [
        { key: 'col.label', cell: x => x.label === 'total' ? el('strong', null, t('stats.total')) : x.label },
        { key: 'col.received', cls: 'num', cell: x => fmtNum(x.received) },
        { key: 'col.resolved', cls: 'num', cell: x => fmtNum(x.resolved) },
        { key: 'col.resolved_on_time', cls: 'num', cell: x => fmtNum(x.resolved_on_time) },
        { key: 'col.on_time_percent', cls: 'num', cell: x => fmtPercent(x.on_time_percent) },
        { key: 'col.overdue', cls: 'num', cell: x => el('span', { class: x.overdue > 0 ? 'bad' : null }, fmtNum(x.overdue)) },
        { key: 'col.online', cls: 'num', cell: x => fmtNum(x.online) },
        { key: 'col.online_percent', cls: 'num', cell: x => fmtPercent(x.online_percent) },
      ];
      const all = r.total ? rows.concat([Object.assign({}, r.total, { label: 'total' })]) : rows;
      out.appendChild(section('stats-chart-card', t('stats.chart'), statsChart(rows)));
      out.appendChild(section('stats-table-card', null,
        table('stats-table', cols, all, x => ({ testid: x.label === 'total' ? 'stats-total' : 'stats-row', class: x.label === 'total' ? 'total' : null }))));
    }).catch(e => {
      if (!current(gen)) return;
      clear(out);
      out.appendChild(errorBox('page-error', e));
    });
  }

  // Two bars per row: received, resolved on time.
  function statsChart(rows) {
    const W = 960, H = 260, left = 50, bottom = 60, top = 10;
    const plotH = H - bottom - top;
    const max = scaleTop(Math.max(0, ...rows.map(r => Math.max(r.received || 0, r.resolved_on_time || 0))), 4);
    const n = Math.max(rows.length, 1);
    const slot = (W - left - 10) / n;
    const bar = Math.max(3, Math.min(28, slot * 0.35));
    const chart = svg('svg', {
      id: 'chart-stats', 'data-testid': 'chart-stats', class: 'chart', viewBox: '0 0 ' + W + ' ' + H,
      role: 'img', 'aria-label': t('stats.chart'),
    });
    chart.appendChild(svg('line', { x1: left, y1: top + plotH, x2: W - 5, y2: top + plotH, class: 'axis' }));
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const y = top + plotH - f * plotH;
      chart.appendChild(svg('line', { x1: left, y1: y, x2: W - 5, y2: y, class: 'gridline' }));
      chart.appendChild(svg('text', { x: left - 6, y: y + 4, class: 'tick', 'text-anchor': 'end' }, fmtNum(Math.round(f * max))));
    }
    rows.forEach((r, i) => {
      const cx = left + i * slot + slot / 2;
      const hr = ((r.received || 0) / max) * plotH;
      const ho = ((r.resolved_on_time || 0) / max) * plotH;
      chart.appendChild(svg('g', { class: 'group', 'data-testid': 'chart-group' },
        svg('title', null, r.label + ' — ' + t('col.received') + ': ' + fmtNum(r.received) + ', ' +
          t('col.resolved_on_time') + ': ' + fmtNum(r.resolved_on_time)),
        svg('rect', { x: cx - bar - 1, y: top + plotH - hr, width: bar, height: hr, class: 'bar' }),
        svg('rect', { x: cx + 1, y: top + plotH - ho, width: bar, height: ho, class: 'bar-good' })));
      const label = String(r.label).length > 14 ? String(r.label).slice(0, 13) + '…' : String(r.label);
      chart.appendChild(svg('text', {
        x: cx, y: top + plotH + 14, class: 'tick', 'text-anchor': rows.length > 8 ? 'end' : 'middle',
        transform: rows.length > 8 ? 'rotate(-35 ' + cx + ' ' + (top + plotH + 14) + ')' : null,
      }, label));
    });
    return el('div', { class: 'chart-wrap' }, chart,
      el('div', { class: 'legend' },
        el('span', { class: 'swatch bar' }), t('col.received'),
        el('span', { class: 'swatch bar-good' }), t('col.resolved_on_time')));
  }

  // ---------------------------------------------------------------------------------------
  // Audit
  // ---------------------------------------------------------------------------------------

  function renderAudit(main, params, gen) {
    const shell = pageShell(main, 'audit', 'audit.title', () => render());
    const actor = el('input', { type: 'text', id: 'audit-actor', testid: 'audit-actor', value: params.actor || '' });
    const action = el('input', { type: 'text', id: 'audit-action', testid: 'audit-action', value: params.action || '', list: 'audit-actions' });
    const form = el('form', { id: 'audit-filter', testid: 'audit-filter', class: 'filters' },
      field(t('audit.actor'), actor), field(t('audit.action'), action),
      el('datalist', { id: 'audit-actions' },
        ['parked.replay', 'parked.discard', 'maintenance.on', 'maintenance.off', 'dossier.resync', 'edoc.resend']
          .map(a => el('option', { value: a }))),
      el('button', { type: 'submit', id: 'audit-apply', testid: 'audit-apply' }, t('common.apply')));
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      window.location.hash = '#/audit' + qs({ actor: actor.value.trim(), action: action.value.trim() });
    });
    api('GET', '/v1/admin/audit' + qs({ actor: params.actor, action: params.action, limit: 200 })).then(r => {
      if (!current(gen)) return;
      stamp(shell);
      clear(shell.body);
      shell.body.appendChild(section('audit-card', null, form,
        table('audit-table', [
          { key: 'col.time', cell: a => fmtTime(a.at) },
          { key: 'col.who', cell: a => a.actor },
          { key: 'col.role', cell: a => t('role.' + a.role) },
          { key: 'col.action', cell: a => el('code', null, a.action) },
          { key: 'col.target', cls: 'wrap', cell: a => a.target || '—' },
          { key: 'col.reason', cls: 'wrap', cell: a => a.reason || '—' },
        ], r.audit || [], a => ({ testid: 'audit-row', 'data-action': a.action, title: JSON.stringify(a.details || {}) }))));
    }).catch(e => {
      if (!current(gen)) return;
      clear(shell.body);
      shell.body.appendChild(errorBox('page-error', e));
    });
  }

  // ---------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------

  async function start() {
    loadLang();
    for (const b of document.querySelectorAll('#lang button')) {
      b.addEventListener('click', () => setLang(b.getAttribute('data-lang')));
    }
    window.addEventListener('hashchange', () => render());
    try {
      state.session = await api('GET', '/ui/api/session');
    } catch (_) {
      state.session = null;
    }
    render();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
