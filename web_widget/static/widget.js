/*! Callback widget: one tag on any site books a callback (docs/widget.md).
 *  <script src="https://HOST/widget.js" data-queue="support" async></script>
 *  No dependencies, no build step. Nothing received from the server or typed by a visitor is
 *  ever parsed as HTML: text goes in with textContent and DOM APIs only. */
(() => {
  'use strict';
  if (window.CallbackWidget && window.CallbackWidget.mount) { // another tag on the same page
    const el = document.currentScript;
    if (el) window.CallbackWidget.mount(el);
    return;
  }

  const script = document.currentScript ||
    Array.from(document.querySelectorAll('script[src*="widget.js"]')).pop();
  const BASE = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  const LANGS = ['en', 'ru', 'fr'];
  const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
  const LIVE = ['requested', 'scheduled', 'retry_wait'];

  const TEXTS = {
    en: {
      launch: 'Call me back', title: 'Request a callback', close: 'Close', loading: 'Loading…',
      phone: 'Your phone number', phoneHint: 'A number in {region}, or with its country code (+…)',
      phoneChars: 'Use digits, spaces and a leading + only', phoneLength: 'This number looks too short or too long',
      phoneBad: 'We cannot call this number; please check it', required: 'Please fill this in',
      unit: 'Department', now: 'Call me now', nowClosed: 'Call me when you open', choose: 'Choose a time',
      book: 'Book this time', pick: 'Please choose a time', noSlots: 'No free times in the next days.',
      zone: 'Times are in your time zone ({zone}); the centre is in {centre}.',
      closed: 'We are closed now.', closedCollect: 'We are closed now. Leave your number: we will call when we open, or choose one of our next open times.',
      closedTimes: 'We are closed now. Choose one of our next open times and we will call you then.',
      days: 'Day', count: { one: '{n} time', other: '{n} times' }, parts: ['Morning', 'Afternoon', 'Evening'],
      hours: 'Our opening hours ({zone})', dayClosed: 'closed',
      done: 'Your callback is booked', already: 'You already have a callback booked',
      whenAsap: 'We will call you as soon as we can.', whenRange: 'We will call you between {start} and {end}.', whenAt: 'We will call you on {when}.',
      ref: 'Reference', cancel: 'Cancel this callback', cancelled: 'Your callback is cancelled.',
      sending: 'Sending…', unavailable: 'Callback requests are not available on this site.',
      slotFull: 'That time has just been taken; please choose another.',
      throttle: 'Too many requests; please try again later.', blocked: 'This number cannot be used.',
      failed: 'Something went wrong; please try again.', cancelFailed: 'This callback can no longer be cancelled.',
    },
    ru: {
      launch: 'Перезвоните мне', title: 'Заказать обратный звонок', close: 'Закрыть', loading: 'Загрузка…',
      phone: 'Ваш номер телефона', phoneHint: 'Номер в стране {region} или с кодом страны (+…)',
      phoneChars: 'Только цифры, пробелы и + в начале', phoneLength: 'Номер слишком короткий или длинный',
      phoneBad: 'Мы не можем позвонить на этот номер; проверьте его', required: 'Заполните это поле',
      unit: 'Отдел', now: 'Позвоните сейчас', nowClosed: 'Позвоните, когда откроетесь', choose: 'Выбрать время',
      book: 'Записаться на это время', pick: 'Выберите время', noSlots: 'В ближайшие дни нет свободного времени.',
      zone: 'Время указано в вашем часовом поясе ({zone}); центр работает по {centre}.',
      closed: 'Сейчас мы не работаем.', closedCollect: 'Сейчас мы не работаем. Оставьте номер — мы позвоним, когда откроемся, или выберите ближайшее время.',
      closedTimes: 'Сейчас мы не работаем. Выберите одно из ближайших свободных времён — мы позвоним вам в это время.',
      days: 'День', count: { one: '{n} вариант', few: '{n} варианта', many: '{n} вариантов', other: '{n} варианта' }, parts: ['Утро', 'День', 'Вечер'],
      hours: 'Часы работы ({zone})', dayClosed: 'выходной',
      done: 'Обратный звонок заказан', already: 'У вас уже есть заказанный звонок',
      whenAsap: 'Мы позвоним вам, как только сможем.', whenRange: 'Мы позвоним вам с {start} до {end}.', whenAt: 'Мы позвоним вам {when}.',
      ref: 'Номер заявки', cancel: 'Отменить звонок', cancelled: 'Звонок отменён.',
      sending: 'Отправка…', unavailable: 'Заказ обратного звонка на этом сайте недоступен.',
      slotFull: 'Это время только что заняли; выберите другое.',
      throttle: 'Слишком много запросов; попробуйте позже.', blocked: 'Этот номер нельзя использовать.',
      failed: 'Что-то пошло не так; попробуйте ещё раз.', cancelFailed: 'Этот звонок уже нельзя отменить.',
    },
    fr: {
      launch: 'Être rappelé', title: 'Demander un rappel', close: 'Fermer', loading: 'Chargement…',
      phone: 'Votre numéro de téléphone', phoneHint: 'Un numéro en {region}, ou avec son indicatif (+…)',
      phoneChars: 'Chiffres, espaces et + initial uniquement', phoneLength: 'Ce numéro semble trop court ou trop long',
      phoneBad: 'Nous ne pouvons pas appeler ce numéro ; vérifiez-le', required: 'Ce champ est obligatoire',
      unit: 'Service', now: 'Appelez-moi maintenant', nowClosed: 'Appelez-moi à l’ouverture', choose: 'Choisir un horaire',
      book: 'Réserver cet horaire', pick: 'Choisissez un horaire', noSlots: 'Aucun horaire libre dans les prochains jours.',
      zone: 'Heures dans votre fuseau ({zone}) ; le centre est à l’heure de {centre}.',
      closed: 'Nous sommes fermés.', closedCollect: 'Nous sommes fermés. Laissez votre numéro : nous vous rappellerons à l’ouverture, ou choisissez un prochain horaire.',
      closedTimes: 'Nous sommes fermés. Choisissez un de nos prochains horaires : nous vous appellerons à ce moment-là.',
      days: 'Jour', count: { one: '{n} horaire', other: '{n} horaires' }, parts: ['Matin', 'Après-midi', 'Soir'],
      hours: 'Nos horaires ({zone})', dayClosed: 'fermé',
      done: 'Votre rappel est réservé', already: 'Vous avez déjà un rappel réservé',
      whenAsap: 'Nous vous appellerons dès que possible.', whenRange: 'Nous vous appellerons entre {start} et {end}.', whenAt: 'Nous vous appellerons le {when}.',
      ref: 'Référence', cancel: 'Annuler ce rappel', cancelled: 'Votre rappel est annulé.',
      sending: 'Envoi…', unavailable: 'La demande de rappel n’est pas disponible sur ce site.',
      slotFull: 'Cet horaire vient d’être pris ; choisissez-en un autre.',
      throttle: 'Trop de demandes ; réessayez plus tard.', blocked: 'Ce numéro ne peut pas être utilisé.',
      failed: 'Une erreur est survenue ; réessayez.', cancelFailed: 'Ce rappel ne peut plus être annulé.',
    },
  };

  function pickLang(el) {
    const wanted = ((el && el.getAttribute('data-lang')) || document.documentElement.lang || navigator.language || 'en')
      .slice(0, 2).toLowerCase();
    return LANGS.includes(wanted) ? wanted : 'en';
  }

  /** The locale dates are written in: the page's own tag when it is in the chosen language
   *  (en-US writes 12-hour times), else a default for the language. */
  function dateLocale(el, lang) {
    const tag = (el && el.getAttribute('data-lang')) || document.documentElement.lang || '';
    return tag.toLowerCase().startsWith(lang + '-') ? tag : { en: 'en-GB', ru: 'ru-RU', fr: 'fr-FR' }[lang];
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, (_, k) => (values[k] == null ? '' : String(values[k])));
  }

  // ---- the API client ---------------------------------------------------------------------

  const NOT_FOUND = 'request_widget_not_found';

  function error(type, message, fields) {
    return { ok: false, error: { type, message: message || type, fields: fields || {} } };
  }

  /** The server's error as the widget's typed error. A CORS refusal or an unreachable server
   *  reads as a network failure: for this page, the queue does not exist. */
  function typed(status, body, sentFields) {
    const type = body && body.type;
    const message = (body && body.message) || 'HTTP ' + status;
    const details = (body && body.details) || {};
    if (type === 'queue_not_found' || type === 'origin_not_allowed') return error(NOT_FOUND, message);
    if (type === 'phone_invalid' || type === 'phone_country_not_allowed') {
      return error('validation_error', message, { phone: message });
    }
    if (type === 'validation_error') {
      const fields = {};
      Object.keys(details).forEach((key) => {
        fields[key] = String(details[key]);
        const m = /^fields\.(\d+)/.exec(key);
        if (m && sentFields && sentFields[+m[1]]) fields[sentFields[+m[1]].name] = String(details[key]);
      });
      return error('validation_error', message, fields);
    }
    return error(type || 'http_' + status, message, details);
  }

  function call(method, path, body, sentFields) {
    const init = { method, mode: 'cors', credentials: 'omit', headers: {} };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(BASE + '/api/v1' + path, init).then(
      (r) => r.json().catch(() => null).then((data) => {
        if (r.ok && data) return { ok: true, status: r.status, data };
        return typed(r.status, data, sentFields);
      }),
      () => error(NOT_FOUND, 'the callback service could not be reached from this page'),
    );
  }

  function done(promise, cb) {
    if (typeof cb === 'function') promise.then((result) => cb(result));
    return promise;
  }

  /** Light check while typing: digits, spaces, dashes, brackets, dots and a leading +; 6–15
   *  digits. The server (phonenumbers) decides. Returns '' or a message key. */
  function phoneProblem(value) {
    const v = String(value || '').trim();
    if (!v) return 'required';
    if (!/^\+?[\d\s().-]+$/.test(v)) return 'phoneChars';
    const digits = v.replace(/\D/g, '').length;
    return digits < 6 || digits > 15 ? 'phoneLength' : '';
  }

  function normaliseFields(fields) {
    if (!fields) return [];
    if (Array.isArray(fields)) return fields.map((f) => ({ name: String(f.name), value: String(f.value == null ? '' : f.value) }));
    return Object.keys(fields).map((name) => ({ name, value: String(fields[name] == null ? '' : fields[name]) }));
  }

  // ---- attribution: where the visitor came from (docs/widget.md#attribution) ---------------

  const UTM = ['source', 'medium', 'campaign', 'term', 'content'];
  const STORE = 'callbackWidget.attribution';
  const cut = (v, n) => (v ? String(v).slice(0, n) : null);
  // This page's view, taken once at load (the landing page of a single-page site stays put).
  const visit = (() => {
    const q = new URLSearchParams(location.search);
    const a = { referrer: cut(document.referrer, 2000), landing_page: cut(location.href, 2000) };
    UTM.forEach((k) => { a[k] = cut(q.get('utm_' + k), 200); });
    return a;
  })();
  let consent = !!script && script.getAttribute('data-attribution-consent') === 'granted';
  if (consent) remember(); // the first visit is recorded on the page it lands on

  function stored() {
    try { const v = JSON.parse(localStorage.getItem(STORE)); return v && v.session_key ? v : null; } catch (e) { return null; }
  }

  /** With consent, the first visit's record (made now when there is none); without, nothing
   *  is kept. Storage the site blocks reads as no consent for keeping. */
  function remember() {
    if (!consent) return null;
    const first = stored();
    if (first) return first;
    // 128 random bits as 32 hex digits (getRandomValues works on http pages too, unlike randomUUID).
    const id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
    const made = Object.assign({ session_key: id, first_visit_at: new Date().toISOString() }, visit);
    try { localStorage.setItem(STORE, JSON.stringify(made)); } catch (e) { return null; }
    return made;
  }

  /** What a booking sends: the first visit's record with consent, this page's without. */
  function routeKeyData() {
    const a = Object.assign({ session_key: null, first_visit_at: null }, remember() || visit);
    return Object.fromEntries(['session_key', 'first_visit_at', ...UTM, 'referrer', 'landing_page'].map((k) => [k, a[k] || null]));
  }

  const api = {
    version: '1',
    /** cb({session_key, first_visit_at, source, medium, campaign, term, content, referrer,
     *  landing_page}): what a booking from this page sends (nulls for what is not known). */
    getRouteKeyData(cb) {
      const data = routeKeyData();
      if (typeof cb === 'function') cb(data);
      return data;
    },
    /** The site's consent to keep the first visit in its localStorage: true keeps it (from
     *  now on), false forgets it. */
    setConsent(given) {
      consent = given === true;
      if (consent) remember(); else try { localStorage.removeItem(STORE); } catch (e) { /* blocked storage */ }
    },
    /** cb({ok:true, queue}) with queue = {key, name, timezone, open_now, collect_off_hours,
     *  schedule, region, language, lead_minutes, horizon_days, widget:{fields, units}}. */
    getQueue(key, cb) {
      return done(call('GET', '/queues/' + encodeURIComponent(key)).then((r) => (r.ok ? { ok: true, queue: r.data } : r)), cb);
    },
    /** cb({ok:true, slots:[{start, end, seats_left}], timezone}). */
    getSlots(key, cb, from, days) {
      const q = '?days=' + (days || 7) + (from ? '&from=' + encodeURIComponent(from) : '');
      return done(call('GET', '/queues/' + encodeURIComponent(key) + '/slots' + q)
        .then((r) => (r.ok ? { ok: true, slots: r.data.slots, timezone: r.data.timezone } : r)), cb);
    },
    /** cb({ok:true, callback, created}) or cb({ok:false, error:{type, message, fields}}).
     *  scheduleTime: a slot's start (string or Date), or nothing for "as soon as possible". */
    createRequest(key, phone, fields, cb, scheduleTime, tags, unitId, extra) {
      const sent = normaliseFields(fields);
      const problem = phoneProblem(phone);
      if (problem) {
        const message = TEXTS.en[problem];
        return done(Promise.resolve(error('validation_error', message, { phone: message })), cb);
      }
      const body = Object.assign({
        queue: String(key), phone: String(phone).trim(), kind: scheduleTime ? 'scheduled' : 'asap',
        fields: sent, tags: (tags || []).map(String), website: '',
        attribution: Object.fromEntries(Object.entries(routeKeyData()).filter(([, v]) => v)),
      }, extra || {});
      if (scheduleTime) body.slot_start = scheduleTime instanceof Date ? scheduleTime.toISOString() : String(scheduleTime);
      if (unitId) body.unit = String(unitId);
      return done(call('POST', '/callbacks', body, sent)
        .then((r) => (r.ok ? { ok: true, callback: r.data, created: r.status === 201 } : r)), cb);
    },
    /** cb({ok:true, callback}) once cancelled. */
    cancelRequest(ref, cb) {
      return done(call('DELETE', '/callbacks/' + encodeURIComponent(ref)).then((r) => (r.ok ? { ok: true, callback: r.data } : r)), cb);
    },
  };

  // ---- small DOM helpers (text only) -------------------------------------------------------

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    Object.keys(props || {}).forEach((k) => {
      const v = props[k];
      if (v == null || v === false) return;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else if (k === 'className' || k === 'value' || k === 'checked') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    });
    children.flat(Infinity).forEach((c) => { if (c != null && c !== false) el.append(typeof c === 'string' ? document.createTextNode(c) : c); });
    return el;
  }

  let uid = 0;
  const nextId = (p) => 'cbw-' + p + '-' + (++uid);

  function visitorZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (e) { return 'UTC'; }
  }

  function formatter(lang, opts) { return new Intl.DateTimeFormat(lang, opts); }

  function regionName(lang, region) {
    try { return new Intl.DisplayNames([lang], { type: 'region' }).of(region) || region; } catch (e) { return region; }
  }

  function weekdayName(lang, i) { // i: 0 = Monday; 4 Jan 2027 is a Monday
    return formatter(lang, { weekday: 'long', timeZone: 'UTC' }).format(new Date(Date.UTC(2027, 0, 4 + i)));
  }

  function hoursList(lang, t, queue) {
    return h('div', { className: 'hours' },
      h('p', { className: 'strong', text: fill(t.hours, { zone: queue.timezone }) }),
      h('dl', null, DAYS.map((d, i) => {
        const spans = (queue.schedule && queue.schedule[d]) || [];
        return [h('dt', { text: weekdayName(lang, i) }),
          h('dd', { text: spans.length ? spans.map((s) => s.opens + '–' + s.closes).join(', ') : t.dayClosed })];
      })));
  }

  const CSS = `
:host{all:initial!important}
.launch,.backdrop{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;text-align:left;letter-spacing:normal}
*{box-sizing:border-box;font:inherit}
.launch{position:fixed;right:16px;bottom:16px;z-index:2147483000;background:#1a7f37;color:#fff;border:0;border-radius:24px;padding:12px 18px;font-weight:600;cursor:pointer;box-shadow:0 2px 8px #0004}
.backdrop{position:fixed;inset:0;z-index:2147483001;background:#0006;display:flex;align-items:center;justify-content:center;padding:12px}
.dialog{background:#fff;border-radius:10px;width:100%;max-width:420px;max-height:calc(100vh - 24px);overflow:auto;padding:16px 18px;box-shadow:0 8px 30px #0005}
.head{display:flex;justify-content:space-between;align-items:center;gap:8px}
h2{font-size:18px;font-weight:700;margin:0}
.x{background:none;border:0;font-size:22px;line-height:1;padding:4px 8px;cursor:pointer;color:#444;border-radius:6px}
label,.strong{display:block;font-weight:600;margin:10px 0 4px}
input,select{width:100%;font-size:16px;padding:8px 10px;border:1px solid #9aa3b1;border-radius:6px;background:#fff;color:#1d2330}
input[aria-invalid=true],select[aria-invalid=true]{border-color:#b00020}
.hint{color:#5b6472;font-size:13px;margin:3px 0 0}
.err{color:#b00020;font-size:13px;margin:3px 0 0;min-height:0}
.err:empty{display:none}
.actions{display:flex;flex-wrap:wrap;gap:8px;margin-top:14px}
button.btn{border:1px solid #1a7f37;background:#1a7f37;color:#fff;border-radius:6px;padding:9px 14px;font-weight:600;cursor:pointer}
button.alt{background:#fff;color:#1a7f37}
button:disabled{opacity:.6;cursor:default}
:focus-visible{outline:3px solid #1b5fd6;outline-offset:2px}
.days{display:flex;gap:6px;overflow-x:auto;margin-top:8px;padding-bottom:2px}
.day{flex:0 0 auto;display:flex;flex-direction:column;align-items:flex-start;border:1px solid #9aa3b1;border-radius:6px;background:#fff;color:#1f2430;padding:5px 9px;cursor:pointer;font:inherit}
.day small{color:#4a5262}
.day[aria-pressed=true]{background:#1a7f37;color:#fff;border-color:#1a7f37}
.day[aria-pressed=true] small{color:#fff}
.day:focus-visible{outline:3px solid #1b5fd6;outline-offset:2px}
.slots{max-height:240px;overflow:auto;border:1px solid #dfe2e8;border-radius:6px;padding:4px 8px;margin-top:8px}
fieldset{border:0;margin:0;padding:4px 0}
legend{font-weight:600;padding:6px 0 2px}
.times{display:flex;flex-wrap:wrap;gap:6px}
.time{position:relative}
.time input{position:absolute;opacity:0;width:1px;height:1px}
.time span{display:inline-block;border:1px solid #9aa3b1;border-radius:6px;padding:5px 9px;cursor:pointer}
.time input:checked+span{background:#1a7f37;color:#fff;border-color:#1a7f37}
.time input:focus-visible+span{outline:3px solid #1b5fd6;outline-offset:2px}
.note{color:#5b6472;font-size:13px;margin:8px 0 0}
.ok{background:#eaf6ee;border-radius:6px;padding:10px 12px;margin:10px 0}
.refv{font-family:ui-monospace,Menlo,monospace;font-size:18px;letter-spacing:.06em;font-weight:700}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:4px 0}
dt,dd{margin:0}
.hp{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}
@media (max-width:480px){.backdrop{align-items:flex-end;padding:0}.dialog{border-radius:12px 12px 0 0;max-height:92vh}}
`;

  // ---- the button and dialog ------------------------------------------------------------

  class Widget {
    constructor(el, queueKey) {
      this.el = el;
      this.key = queueKey;
      this.lang = pickLang(el);
      this.locale = dateLocale(el, this.lang);
      this.t = TEXTS[this.lang];
      this.tags = (el.getAttribute('data-tags') || '').split(',').map((s) => s.trim()).filter(Boolean);
      this.host = h('callback-widget', { 'data-queue': queueKey, 'data-state': 'idle', lang: this.lang });
      this.root = this.host.attachShadow({ mode: 'open' });
      this.root.append(h('style', { text: CSS }));
      this.launcher = h('button', { className: 'launch', type: 'button', 'aria-haspopup': 'dialog', text: this.t.launch, onclick: () => this.open() });
      this.root.append(this.launcher);
      document.body.append(this.host);
    }

    state(name) { this.host.setAttribute('data-state', name); }

    open() {
      const t = this.t;
      this.titleId = nextId('title');
      this.body = h('div', { className: 'body' }, h('p', { role: 'status', text: t.loading }));
      this.dialog = h('div', { className: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': this.titleId },
        h('div', { className: 'head' },
          h('h2', { id: this.titleId, text: t.title }),
          h('button', { className: 'x', type: 'button', 'aria-label': t.close, text: '×', onclick: () => this.close() })),
        this.body);
      this.backdrop = h('div', { className: 'backdrop', onkeydown: (e) => this.trap(e), onclick: (e) => { if (e.target === this.backdrop) this.close(); } }, this.dialog);
      this.root.append(this.backdrop);
      this.launcher.hidden = true;
      this.state('loading');
      this.dialog.querySelector('.x').focus();
      api.getQueue(this.key).then((r) => {
        if (!this.backdrop) return;
        if (!r.ok) return this.unavailable();
        this.queue = r.queue;
        this.form();
      });
    }

    close() {
      if (!this.backdrop) return;
      this.backdrop.remove();
      this.backdrop = null;
      this.launcher.hidden = false;
      this.state('idle');
      this.launcher.focus();
    }

    focusables() {
      return Array.from(this.dialog.querySelectorAll('button,input,select,textarea,a[href],[tabindex]'))
        .filter((el) => !el.disabled && el.tabIndex >= 0 && !el.closest('[hidden]') && el.getClientRects().length &&
          !(el.type === 'radio' && !el.checked && this.dialog.querySelector('input[type=radio][name="' + el.name + '"]:checked')));
    }

    trap(e) {
      if (e.key === 'Escape') { e.preventDefault(); this.close(); return; }
      if (e.key !== 'Tab') return;
      const items = this.focusables();
      if (!items.length) return;
      const active = this.root.activeElement;
      const i = items.indexOf(active);
      if (i === -1 && active && this.dialog.contains(active)) return; // e.g. a heading: the browser moves on
      if (e.shiftKey && i <= 0) {
        e.preventDefault(); items[items.length - 1].focus();
      } else if (!e.shiftKey && (i === items.length - 1 || i === -1)) {
        e.preventDefault(); items[0].focus();
      }
    }

    unavailable() {
      this.state('unavailable');
      this.body.replaceChildren(h('p', { role: 'alert', className: 'err-box', text: this.t.unavailable }));
    }

    closedHours() {
      const t = this.t; const q = this.queue;
      this.state('closed-hours');
      this.body.replaceChildren(h('p', { className: 'note queue-name', text: q.name }),
        h('p', { className: 'strong', text: t.closed }), hoursList(this.locale, t, q));
    }

    form() {
      const t = this.t; const q = this.queue;
      // Closed: ASAP for the opening only where the queue collects requests off-hours; a
      // time from the next open ones always (none free: the hours alone).
      const collect = !q.open_now && q.collect_off_hours;
      const timesOnly = !q.open_now && !q.collect_off_hours;
      this.state(collect ? 'off-hours' : timesOnly ? 'closed-times' : 'form');
      this.fieldErrors = {};
      this.formEl = h('form', { novalidate: true, onsubmit: (e) => { e.preventDefault(); this.submit(this.mode); } },
        h('p', { className: 'note queue-name', text: q.name }));
      if (collect) this.formEl.append(h('p', { className: 'note', text: t.closedCollect }));
      if (timesOnly) this.formEl.append(h('p', { className: 'note', text: t.closedTimes }));
      this.phone = this.input('phone', t.phone, { type: 'tel', autocomplete: 'tel', inputmode: 'tel', required: true },
        fill(t.phoneHint, { region: regionName(this.locale, q.region || 'GB') }));
      this.phone.addEventListener('input', () => this.checkPhone(false));
      this.phone.addEventListener('blur', () => this.checkPhone(true));
      this.extra = ((q.widget && q.widget.fields) || []).slice(0, 5).map((f, i) =>
        ({ def: f, el: this.input('fields.' + i, f.label, { type: 'text', required: !!f.required, maxlength: 255 }) }));
      const units = (q.widget && q.widget.units) || [];
      if (units.length) {
        const id = nextId('unit');
        this.unit = h('select', { id, name: 'unit' }, units.map((u) => h('option', { value: u.id, text: u.name })));
        const err = this.errorSlot('unit', this.unit);
        this.unit.setAttribute('aria-describedby', err.id);
        this.formEl.append(h('label', { for: id, text: t.unit }), this.unit, err);
      }
      this.honeypot = h('input', { type: 'text', name: 'website', tabindex: '-1', autocomplete: 'off', 'aria-hidden': 'true', value: '' });
      this.formEl.append(h('div', { className: 'hp', 'aria-hidden': 'true' }, this.honeypot));
      this.slotBox = h('div', { hidden: true });
      this.slotError = h('p', { className: 'err', id: nextId('err') });
      this.general = h('p', { className: 'err', role: 'alert' });
      this.fieldErrors.slot_start = { err: this.slotError, el: this.slotBox };
      this.nowBtn = h('button', { className: 'btn', type: 'submit', text: collect ? t.nowClosed : t.now, onclick: () => { this.mode = 'asap'; } });
      this.chooseBtn = h('button', { className: 'btn alt', type: 'button', 'aria-expanded': 'false', text: t.choose, onclick: () => this.showSlots(true) });
      this.bookBtn = h('button', { className: 'btn', type: 'submit', hidden: true, text: t.book, onclick: () => { this.mode = 'scheduled'; } });
      // Closed, times only: neither button (Enter must not book "now"); the times at once.
      this.formEl.append(h('div', { className: 'actions' }, timesOnly ? null : [this.nowBtn, this.chooseBtn]),
        this.slotBox, this.slotError, h('div', { className: 'actions' }, this.bookBtn), this.general);
      this.body.replaceChildren(this.formEl);
      this.mode = timesOnly ? 'scheduled' : 'asap';
      if (collect || timesOnly) this.showSlots(false, timesOnly); // off-hours: the next open times, straight away
      this.phone.focus();
    }

    input(name, label, attrs, hint) {
      const id = nextId('f'); const hintId = hint ? nextId('hint') : null;
      const el = h('input', Object.assign({ id, name }, attrs));
      const err = this.errorSlot(name, el);
      el.setAttribute('aria-describedby', [hintId, err.id].filter(Boolean).join(' '));
      const parts = [h('label', { for: id, text: label + (attrs.required ? ' *' : '') }), el,
        hint ? h('p', { className: 'hint', id: hintId, text: hint }) : null, err];
      this.formEl.append(...parts.filter(Boolean));
      return el;
    }

    errorSlot(name, el) {
      const err = h('p', { className: 'err', id: nextId('err'), 'data-field': name });
      this.fieldErrors[name] = { err, el };
      return err;
    }

    showError(name, message) {
      const f = this.fieldErrors[name];
      if (!f) return false;
      f.err.textContent = message || '';
      if (message) f.el.setAttribute('aria-invalid', 'true'); else f.el.removeAttribute('aria-invalid');
      return true;
    }

    checkPhone(strict) {
      const problem = phoneProblem(this.phone.value);
      // While typing, only a wrong character is worth saying; length and emptiness wait for blur.
      const show = problem && (strict ? problem !== 'required' || this.phone.value : problem === 'phoneChars');
      this.showError('phone', show ? this.t[problem] : '');
      return !problem;
    }

    showSlots(focusFirst, onlyTimes) {
      this.chooseBtn.setAttribute('aria-expanded', 'true');
      this.slotBox.hidden = false;
      this.bookBtn.hidden = false;
      this.loadSlots(this.slotBox, focusFirst, onlyTimes);
    }

    /** The free times in ``box``; with ``onlyTimes`` (closed, nothing else to book) and
     * none free, the queue's hours instead of the form. */
    loadSlots(box, focusFirst, onlyTimes) {
      const t = this.t;
      box.replaceChildren(h('p', { role: 'status', text: t.loading }));
      api.getSlots(this.key).then((r) => {
        if (!r.ok) { box.replaceChildren(h('p', { className: 'err', text: t.failed })); return; }
        if (!r.slots.length && onlyTimes) { this.closedHours(); return; }
        if (!r.slots.length) { box.replaceChildren(h('p', { text: t.noSlots })); return; }
        const zone = visitorZone();
        const dayKey = formatter('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
        const dayName = formatter(this.locale, { timeZone: zone, weekday: 'long', day: 'numeric', month: 'long' });
        const timeName = formatter(this.locale, { timeZone: zone, hour: '2-digit', minute: '2-digit' });
        const hourOf = formatter('en-GB', { timeZone: zone, hour: 'numeric', hourCycle: 'h23' });
        const days = new Map();
        r.slots.forEach((s) => {
          const d = new Date(s.start);
          const k = dayKey.format(d);
          if (!days.has(k)) days.set(k, { name: dayName.format(d), slots: [] });
          // morning before 12:00, afternoon before 17:00, evening after: in the visitor's zone
          const hour = parseInt(hourOf.format(d), 10);
          days.get(k).slots.push({ start: s.start, d, label: timeName.format(d), part: hour < 12 ? 0 : hour < 17 ? 1 : 2 });
        });
        // A time the clock shows twice (the clocks go back) says its zone: "01:30 BST", "01:30 GMT".
        const zoned = formatter(this.locale, { timeZone: zone, hour: '2-digit', minute: '2-digit', timeZoneName: 'short' });
        days.forEach((day) => {
          const twice = day.slots.filter((s, i) => day.slots.findIndex((o) => o.label === s.label) !== i).map((s) => s.label);
          day.slots.forEach((s) => { if (twice.includes(s.label)) s.label = zoned.format(s.d); });
        });
        const plural = new Intl.PluralRules(this.locale);
        const name = nextId('slot');
        const list = h('div', { className: 'slots', role: 'group', 'aria-label': t.choose });
        const dayButtons = [];
        const showDay = (day, button) => {
          dayButtons.forEach((b) => b.setAttribute('aria-pressed', String(b === button)));
          list.replaceChildren(...t.parts.map((part, i) => {
            const slots = day.slots.filter((s) => s.part === i);
            return slots.length ? h('fieldset', null, h('legend', { text: part }),
              h('div', { className: 'times' }, slots.map((s) => h('label', { className: 'time' },
                h('input', { type: 'radio', name, value: s.start, 'data-start': s.start, onchange: () => this.showError('slot_start', '') }),
                h('span', { text: s.label }))))) : null;
          }).filter(Boolean));
        };
        // A day picker (the next open days, how many times each), then that day's times.
        const picker = h('div', { className: 'days', role: 'group', 'aria-label': t.days });
        days.forEach((day) => {
          const count = t.count[plural.select(day.slots.length)] || t.count.other;
          const button = h('button', { type: 'button', className: 'day', 'aria-pressed': 'false', onclick: () => showDay(day, button) },
            h('span', { text: day.name }), h('small', { text: fill(count, { n: day.slots.length }) }));
          dayButtons.push(button);
          picker.append(button);
        });
        showDay(days.values().next().value, dayButtons[0]);
        this.fieldErrors.slot_start = { err: this.slotError, el: list };
        box.replaceChildren(picker, list, h('p', { className: 'note', text: fill(t.zone, { zone, centre: this.queue.timezone }) }));
        if (focusFirst) list.querySelector('input').focus();
      });
    }

    values() {
      return this.extra.map((f) => ({ name: f.def.name, value: f.el.value.trim() }));
    }

    submit(mode) {
      const t = this.t;
      Object.keys(this.fieldErrors).forEach((k) => this.showError(k, ''));
      this.general.textContent = '';
      let ok = this.checkPhone(true);
      if (!this.phone.value.trim()) { this.showError('phone', t.required); ok = false; }
      this.extra.forEach((f, i) => { if (f.def.required && !f.el.value.trim()) { this.showError('fields.' + i, t.required); ok = false; } });
      let slot = null;
      if (mode === 'scheduled') {
        const picked = this.slotBox.querySelector('input[type=radio]:checked');
        if (!picked) { this.showError('slot_start', t.pick); ok = false; } else slot = picked.value;
      }
      if (!ok) { const bad = this.dialog.querySelector('[aria-invalid=true]'); if (bad) bad.focus(); return; }
      this.sentMode = mode;
      const buttons = [this.nowBtn, this.chooseBtn, this.bookBtn];
      buttons.forEach((b) => { b.disabled = true; });
      this.general.textContent = t.sending;
      api.createRequest(this.key, this.phone.value, this.values(), null, slot, this.tags, this.unit ? this.unit.value : null,
        { locale: this.lang, website: this.honeypot.value }).then((r) => {
        buttons.forEach((b) => { b.disabled = false; });
        this.general.textContent = '';
        if (r.ok) return this.confirm(r.callback, r.created);
        this.fail(r.error);
      });
    }

    fail(err) {
      const t = this.t;
      if (err.type === NOT_FOUND) return this.unavailable();
      let shown = false;
      if (err.type === 'validation_error') {
        Object.keys(err.fields).forEach((k) => {
          const key = k.replace(/^(fields\.\d+)\..*$/, '$1');
          const msg = key === 'phone' ? t.phoneBad : err.fields[k];
          shown = this.showError(key, msg) || shown;
        });
      } else if (err.type === 'request_phone_blacklisted') {
        shown = this.showError('phone', t.blocked);
      } else if (this.sentMode === 'scheduled' && ['slot_full', 'too_soon', 'too_far', 'slot_not_found'].includes(err.type)) {
        shown = this.showError('slot_start', err.type === 'slot_full' ? t.slotFull : err.message);
        this.loadSlots(this.slotBox, false);
      }
      if (!shown) {
        this.general.textContent = err.type.startsWith('request_throttle') ? t.throttle : err.message || t.failed;
      }
      const bad = this.dialog.querySelector('[aria-invalid=true]');
      if (bad && bad.focus) bad.focus();
    }

    confirm(cb, created) {
      const t = this.t;
      this.state('booked');
      const when = cb.kind === 'scheduled' && cb.slot_start
        ? fill(t.whenAt, { when: formatter(this.locale, { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit', timeZone: visitorZone() }).format(new Date(cb.slot_start)) })
        : cb.estimated_call_at // an ASAP callback's ECBT range, as the IVR and the confirmation text say it
          ? fill(t.whenRange, Object.fromEntries(Object.entries({ start: cb.estimated_call_at.earliest, end: cb.estimated_call_at.latest })
            .map(([name, at]) => [name, formatter(this.locale, { hour: '2-digit', minute: '2-digit', timeZone: visitorZone() }).format(new Date(at))])))
          : t.whenAsap;
      const status = h('p', { role: 'status' });
      const cancel = h('button', { className: 'btn alt', type: 'button', text: t.cancel, onclick: () => {
        cancel.disabled = true;
        api.cancelRequest(cb.ref).then((r) => {
          if (r.ok) { this.state('cancelled'); cancel.remove(); status.textContent = t.cancelled; done.focus(); } else { cancel.disabled = false; status.textContent = t.cancelFailed; }
        });
      } });
      const done = h('button', { className: 'btn', type: 'button', text: t.close, onclick: () => this.close() });
      const heading = h('p', { className: 'strong', tabindex: '-1', text: created === false ? t.already : t.done });
      this.body.replaceChildren(h('div', { className: 'ok' }, heading, h('p', { text: when }),
        h('p', null, t.ref + ': ', h('span', { className: 'refv', 'data-ref': cb.ref, text: cb.ref }))),
      LIVE.includes(cb.state) ? h('div', { className: 'actions' }, cancel, done) : h('div', { className: 'actions' }, done), status);
      heading.focus();
    }
  }

  // ---- integrated mode: the site's own phone field and button ------------------------------

  function integrate(el, key) {
    const lang = pickLang(el); const t = TEXTS[lang];
    const input = document.getElementById(el.getAttribute('data-phone-input'));
    const button = document.getElementById(el.getAttribute('data-button'));
    if (!input || !button) { console.warn('CallbackWidget: data-phone-input or data-button names no element'); return; }
    const tags = (el.getAttribute('data-tags') || '').split(',').map((s) => s.trim()).filter(Boolean);
    // Messages go in the site's own element (data-message="id"), else in one after the button.
    const own = document.getElementById(el.getAttribute('data-message') || '');
    const out = own || h('span', { className: 'callback-widget-message', 'data-queue': key });
    out.setAttribute('role', 'status');
    out.setAttribute('aria-live', 'polite');
    if (!own) button.insertAdjacentElement('afterend', out);
    const say = (text, invalid) => {
      out.textContent = text;
      if (invalid) { input.setAttribute('aria-invalid', 'true'); input.setAttribute('aria-describedby', out.id = out.id || nextId('msg')); } else input.removeAttribute('aria-invalid');
    };
    input.addEventListener('input', () => { say(phoneProblem(input.value) === 'phoneChars' ? t.phoneChars : '', phoneProblem(input.value) === 'phoneChars'); });
    const go = (e) => {
      e.preventDefault();
      const problem = phoneProblem(input.value);
      if (problem) { say(t[problem], true); input.focus(); return; }
      button.disabled = true; say(t.sending);
      api.getQueue(key).then((r) => {
        if (!r.ok) return r;
        if (!r.queue.open_now && !r.queue.collect_off_hours) return { ok: false, closed: r.queue };
        return api.createRequest(key, input.value, [], null, null, tags, el.getAttribute('data-unit'), { locale: lang });
      }).then((r) => {
        button.disabled = false;
        if (r.ok) {
          say(t.done + '. ' + t.ref + ': ' + r.callback.ref);
          out.setAttribute('data-ref', r.callback.ref);
          button.dispatchEvent(new CustomEvent('callbackwidget:booked', { bubbles: true, detail: r.callback }));
        } else if (r.closed) {
          const hours = DAYS.map((d, i) => ((r.closed.schedule[d] || []).length ? weekdayName(dateLocale(el, lang), i) + ' ' + r.closed.schedule[d].map((s) => s.opens + '–' + s.closes).join(', ') : null)).filter(Boolean);
          say(t.closed + ' ' + fill(t.hours, { zone: r.closed.timezone }) + ': ' + hours.join('; '));
        } else if (r.error.type === NOT_FOUND) say(t.unavailable);
        else if (r.error.type === 'validation_error' && r.error.fields.phone) say(t.phoneBad, true);
        else if (r.error.type === 'request_phone_blacklisted') say(t.blocked, true);
        else say(r.error.type.startsWith('request_throttle') ? t.throttle : r.error.message || t.failed);
      });
    };
    // A click on a submit button is cancelled here, so the form's submit only comes from Enter
    // in a form without that button as its default: both start one request.
    button.addEventListener('click', go);
    if (button.form) button.form.addEventListener('submit', go);
  }

  /** Start the widget a script tag describes (each tag on the page once). */
  function mount(el) {
    const key = el && el.getAttribute('data-queue');
    if (!key || el.callbackWidget) return;
    el.callbackWidget = true;
    const go = () => {
      if (el.hasAttribute('data-phone-input') || el.hasAttribute('data-button')) integrate(el, key);
      else new Widget(el, key); // eslint-disable-line no-new
    };
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', go); else go();
  }

  api.mount = mount;
  window.CallbackWidget = api;
  mount(script);
})();
