'use strict';
// require('netbios-session') is the NetbiosSession constructor itself, as in
// 0.1.6; it also carries .NetbiosSession, .NetbiosName and .MAX_MESSAGE_LENGTH.

module.exports = require('./lib/session');
