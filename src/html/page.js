// aloud player page. Without this script every chapter and paragraph is still a link that
// plays the audio from its start (a media fragment, NAME.wav#t=SECONDS). With it, those
// links seek the player instead, and the current chapter and paragraph follow playback;
// where the engine reported word timings (data.words), so does the word being spoken, and a
// click on any word plays from there.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('aloud-data').textContent);
  var audio = document.getElementById('player');
  var trackEl = document.getElementById('chapters-track');
  // Cues are fetched only when the mode is not "disabled"; "hidden" draws nothing. From
  // file:// Chromium refuses to fetch the .vtt, which is why the page embeds the chapters.
  if (trackEl && trackEl.track) trackEl.track.mode = 'hidden';

  var chapterLinks = [];
  document.querySelectorAll('#chapter-list a[data-chapter]').forEach(function (a) {
    chapterLinks[Number(a.getAttribute('data-chapter'))] = a;
  });
  var paragraphs = data.paragraphs.map(function (_, i) {
    return document.getElementById('p' + (i + 1));
  });
  var now = document.getElementById('now');
  var nowTitle = document.getElementById('now-title');
  var player = document.querySelector('.player');
  var reduceMotion = window.matchMedia('(prefers-reduced-motion: reduce)');

  // The last item starting at or before t (a millisecond of slack for rounding), or -1.
  function itemAt(items, t) {
    var lo = 0, hi = items.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (items[mid].start <= t + 0.001) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  var chapter = -1, paragraph = -1, word = -1;
  var words = (data.words || []).map(function (w) { return { start: w[0], end: w[1] }; });
  var wordEls = [];
  if (words.length) {
    document.querySelectorAll('.transcript span.w[data-w]').forEach(function (el) {
      wordEls[Number(el.getAttribute('data-w'))] = el;
    });
  }

  // The word being spoken: the last one started, while it sounds (not in the pause after).
  function setWord(t) {
    var i = itemAt(words, t);
    if (i >= 0 && t > words[i].end + 0.001) i = -1;
    if (i === word) return;
    if (wordEls[word]) wordEls[word].classList.remove('spoken');
    word = i;
    if (wordEls[i]) wordEls[i].classList.add('spoken');
  }

  function setChapter(i) {
    if (i === chapter) return;
    if (chapterLinks[chapter]) chapterLinks[chapter].removeAttribute('aria-current');
    chapter = i;
    var link = chapterLinks[i];
    if (link) link.setAttribute('aria-current', 'true');
    if (i >= 0) {
      nowTitle.textContent = data.chapters[i].title;
      now.hidden = false;
    }
  }

  function setParagraph(i, follow) {
    if (i === paragraph) return;
    var old = paragraphs[paragraph];
    if (old) { old.classList.remove('current'); old.removeAttribute('aria-current'); }
    paragraph = i;
    var el = paragraphs[i];
    if (!el) return;
    el.classList.add('current');
    el.setAttribute('aria-current', 'true');
    if (follow) followParagraph(el);
  }

  function update(follow) {
    var t = audio.currentTime;
    setChapter(itemAt(data.chapters, t));
    setParagraph(itemAt(data.paragraphs, t), follow);
    if (words.length) setWord(t);
  }

  // Keep the paragraph being spoken in view, unless the reader scrolled in the last few
  // seconds: then they are reading elsewhere and the page leaves them there.
  var lastUserScroll = -Infinity;
  function readerScrolled() { lastUserScroll = Date.now(); }
  window.addEventListener('wheel', readerScrolled, { passive: true });
  window.addEventListener('touchmove', readerScrolled, { passive: true });
  window.addEventListener('keydown', function (e) {
    var keys = ['PageUp', 'PageDown', 'ArrowUp', 'ArrowDown', 'Home', 'End', ' '];
    if (keys.indexOf(e.key) >= 0 && !(e.target instanceof HTMLMediaElement)) readerScrolled();
  });
  document.addEventListener('pointerdown', function (e) {
    // A press on the page's own scrollbar.
    if (e.target === document.documentElement) readerScrolled();
  });

  function followParagraph(el) {
    if (Date.now() - lastUserScroll < 5000) return;
    var top = 0;
    if (player && getComputedStyle(player).position === 'sticky') {
      top = player.getBoundingClientRect().bottom;
    }
    var r = el.getBoundingClientRect();
    if (r.top >= top && r.bottom <= window.innerHeight) return;
    el.scrollIntoView({ block: 'center', behavior: reduceMotion.matches ? 'auto' : 'smooth' });
  }

  function canPlay() {
    return !audio.error && audio.networkState !== audio.NETWORK_NO_SOURCE;
  }

  // A server that ignores HTTP Range requests (Python's http.server) lets the audio play
  // but not seek: setting currentTime would only restart it. Say so instead.
  var noSeek = document.getElementById('no-seek');
  function canSeek() {
    var s = audio.seekable;
    return audio.readyState < 1 || (s.length > 0 && s.end(s.length - 1) > 0);
  }
  function checkSeekable() { noSeek.hidden = canSeek(); }
  audio.addEventListener('loadedmetadata', checkSeekable);
  audio.addEventListener('canplay', checkSeekable);

  function seek(seconds, play) {
    audio.currentTime = seconds;
    update(true);
    if (play) {
      var p = audio.play();
      if (p && p.catch) p.catch(function () {});
    }
  }

  // A click on a word plays from that word.
  document.addEventListener('click', function (e) {
    var el = e.target.closest && e.target.closest('span.w[data-w]');
    if (!el || e.defaultPrevented || e.button !== 0 || !canPlay()) return;
    var w = words[Number(el.getAttribute('data-w'))];
    if (!w) return;
    checkSeekable();
    if (canSeek()) seek(w.start, true);
  });

  // Chapter links and paragraph play controls: seek and play instead of leaving the page.
  // Modified clicks (new tab, download) keep their usual meaning, and if the player has no
  // playable source the link opens the audio file itself.
  document.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[data-start]');
    if (!a || e.defaultPrevented || e.button !== 0) return;
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || !canPlay()) return;
    e.preventDefault();
    checkSeekable();
    if (canSeek()) seek(parseFloat(a.getAttribute('data-start')), true);
  });

  ['timeupdate', 'seeking', 'seeked', 'play'].forEach(function (type) {
    audio.addEventListener(type, function () { update(!audio.paused || type !== 'timeupdate'); });
  });

  // A link to a paragraph (page.html#p12) also puts the player there, ready to play.
  var m = /^#p([0-9]+)$/.exec(location.hash);
  if (m && data.paragraphs[Number(m[1]) - 1]) {
    audio.currentTime = data.paragraphs[Number(m[1]) - 1].start;
    update(false);
  }
})();
