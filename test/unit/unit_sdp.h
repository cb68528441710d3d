/* Real-looking SDP offers, shared by test_ucwa_sdp.c and the fuzz seeds
 * (test/fuzz/make_corpus.py reads the SDP_* macros of this file). Addresses are from
 * documentation ranges; keys and passwords are made up. */
#ifndef UNIT_SDP_H
#define UNIT_SDP_H

/* Chrome: audio and video, BUNDLE, DTLS, host/srflx/relay candidates (6 KiB) */
#define SDP_CHROME \
    "v=0\r\n" \
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n" \
    "s=-\r\n" \
    "t=0 0\r\n" \
    "a=group:BUNDLE 0 1\r\n" \
    "a=extmap-allow-mixed\r\n" \
    "a=msid-semantic: WMS 3fc0c5b2-7a4e-4d1b-9a44-6b2d0e3f5c11\r\n" \
    "m=audio 52837 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n" \
    "c=IN IP4 192.0.2.17\r\n" \
    "a=rtcp:9 IN IP4 0.0.0.0\r\n" \
    "a=candidate:3347072734 1 udp 2122260223 192.168.1.23 52837 typ host generation 0 network-id 1 network-cost 10\r\n" \
    "a=candidate:1862449711 1 udp 2122194687 10.8.0.5 60113 typ host generation 0 network-id 2 network-cost 50\r\n" \
    "a=candidate:2413484662 1 tcp 1518280447 192.168.1.23 9 typ host tcptype active generation 0 network-id 1 network-cost 10\r\n" \
    "a=candidate:1017327159 1 udp 1686052607 192.0.2.17 52837 typ srflx raddr 192.168.1.23 rport 52837 generation 0 network-id 1 network-cost 10\r\n" \
    "a=candidate:4167420378 1 udp 41885439 198.51.100.4 49170 typ relay raddr 192.0.2.17 rport 52837 generation 0 network-id 1 network-cost 10\r\n" \
    "a=ice-ufrag:Xa9k\r\n" \
    "a=ice-pwd:qF3n+7bU8tW1yZ/0pLs9dR2e\r\n" \
    "a=ice-options:trickle\r\n" \
    "a=fingerprint:sha-256 5B:9F:23:A1:0C:7E:44:D2:B8:61:3A:9E:F0:12:CD:45:67:89:AB:EF:01:23:45:67:89:AB:CD:EF:10:32:54:76\r\n" \
    "a=setup:actpass\r\n" \
    "a=mid:0\r\n" \
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" \
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n" \
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" \
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" \
    "a=sendrecv\r\n" \
    "a=msid:3fc0c5b2-7a4e-4d1b-9a44-6b2d0e3f5c11 8f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b\r\n" \
    "a=rtcp-mux\r\n" \
    "a=rtcp-rsize\r\n" \
    "a=rtpmap:111 opus/48000/2\r\n" \
    "a=rtcp-fb:111 transport-cc\r\n" \
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n" \
    "a=rtpmap:63 red/48000/2\r\n" \
    "a=fmtp:63 111/111\r\n" \
    "a=rtpmap:9 G722/8000\r\n" \
    "a=rtpmap:0 PCMU/8000\r\n" \
    "a=rtpmap:8 PCMA/8000\r\n" \
    "a=rtpmap:13 CN/8000\r\n" \
    "a=rtpmap:110 telephone-event/48000\r\n" \
    "a=rtpmap:126 telephone-event/8000\r\n" \
    "a=ssrc:1447912384 cname:kq3Zb7Yx1uVt2s9w\r\n" \
    "a=ssrc:1447912384 msid:3fc0c5b2-7a4e-4d1b-9a44-6b2d0e3f5c11 8f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b\r\n" \
    "m=video 52837 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 100 101 112 113 114\r\n" \
    "c=IN IP4 192.0.2.17\r\n" \
    "a=rtcp:9 IN IP4 0.0.0.0\r\n" \
    "a=candidate:3347072734 1 udp 2122260223 192.168.1.23 52837 typ host generation 0 network-id 1 network-cost 10\r\n" \
    "a=candidate:1862449711 1 udp 2122194687 10.8.0.5 60113 typ host generation 0 network-id 2 network-cost 50\r\n" \
    "a=candidate:1017327159 1 udp 1686052607 192.0.2.17 52837 typ srflx raddr 192.168.1.23 rport 52837 generation 0 network-id 1 network-cost 10\r\n" \
    "a=ice-ufrag:Xa9k\r\n" \
    "a=ice-pwd:qF3n+7bU8tW1yZ/0pLs9dR2e\r\n" \
    "a=ice-options:trickle\r\n" \
    "a=fingerprint:sha-256 5B:9F:23:A1:0C:7E:44:D2:B8:61:3A:9E:F0:12:CD:45:67:89:AB:EF:01:23:45:67:89:AB:CD:EF:10:32:54:76\r\n" \
    "a=setup:actpass\r\n" \
    "a=mid:1\r\n" \
    "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n" \
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n" \
    "a=extmap:13 urn:3gpp:video-orientation\r\n" \
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" \
    "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n" \
    "a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type\r\n" \
    "a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing\r\n" \
    "a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space\r\n" \
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" \
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n" \
    "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n" \
    "a=sendrecv\r\n" \
    "a=msid:3fc0c5b2-7a4e-4d1b-9a44-6b2d0e3f5c11 1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809\r\n" \
    "a=rtcp-mux\r\n" \
    "a=rtcp-rsize\r\n" \
    "a=rtpmap:96 VP8/90000\r\n" \
    "a=rtcp-fb:96 goog-remb\r\n" \
    "a=rtcp-fb:96 transport-cc\r\n" \
    "a=rtcp-fb:96 ccm fir\r\n" \
    "a=rtcp-fb:96 nack\r\n" \
    "a=rtcp-fb:96 nack pli\r\n" \
    "a=rtpmap:97 rtx/90000\r\n" \
    "a=fmtp:97 apt=96\r\n" \
    "a=rtpmap:102 H264/90000\r\n" \
    "a=rtcp-fb:102 goog-remb\r\n" \
    "a=rtcp-fb:102 transport-cc\r\n" \
    "a=rtcp-fb:102 ccm fir\r\n" \
    "a=rtcp-fb:102 nack\r\n" \
    "a=rtcp-fb:102 nack pli\r\n" \
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n" \
    "a=rtpmap:103 rtx/90000\r\n" \
    "a=fmtp:103 apt=102\r\n" \
    "a=rtpmap:104 H264/90000\r\n" \
    "a=rtcp-fb:104 goog-remb\r\n" \
    "a=rtcp-fb:104 transport-cc\r\n" \
    "a=rtcp-fb:104 ccm fir\r\n" \
    "a=rtcp-fb:104 nack\r\n" \
    "a=rtcp-fb:104 nack pli\r\n" \
    "a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n" \
    "a=rtpmap:105 rtx/90000\r\n" \
    "a=fmtp:105 apt=104\r\n" \
    "a=rtpmap:106 H264/90000\r\n" \
    "a=rtcp-fb:106 goog-remb\r\n" \
    "a=rtcp-fb:106 transport-cc\r\n" \
    "a=rtcp-fb:106 ccm fir\r\n" \
    "a=rtcp-fb:106 nack\r\n" \
    "a=rtcp-fb:106 nack pli\r\n" \
    "a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n" \
    "a=rtpmap:107 rtx/90000\r\n" \
    "a=fmtp:107 apt=106\r\n" \
    "a=rtpmap:108 H264/90000\r\n" \
    "a=rtcp-fb:108 goog-remb\r\n" \
    "a=rtcp-fb:108 transport-cc\r\n" \
    "a=rtcp-fb:108 ccm fir\r\n" \
    "a=rtcp-fb:108 nack\r\n" \
    "a=rtcp-fb:108 nack pli\r\n" \
    "a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n" \
    "a=rtpmap:109 rtx/90000\r\n" \
    "a=fmtp:109 apt=108\r\n" \
    "a=rtpmap:127 H264/90000\r\n" \
    "a=rtcp-fb:127 goog-remb\r\n" \
    "a=rtcp-fb:127 transport-cc\r\n" \
    "a=rtcp-fb:127 ccm fir\r\n" \
    "a=rtcp-fb:127 nack\r\n" \
    "a=rtcp-fb:127 nack pli\r\n" \
    "a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n" \
    "a=rtpmap:125 rtx/90000\r\n" \
    "a=fmtp:125 apt=127\r\n" \
    "a=rtpmap:39 AV1/90000\r\n" \
    "a=rtcp-fb:39 goog-remb\r\n" \
    "a=rtcp-fb:39 transport-cc\r\n" \
    "a=rtcp-fb:39 ccm fir\r\n" \
    "a=rtcp-fb:39 nack\r\n" \
    "a=rtcp-fb:39 nack pli\r\n" \
    "a=fmtp:39 level-idx=5;profile=0;tier=0\r\n" \
    "a=rtpmap:40 rtx/90000\r\n" \
    "a=fmtp:40 apt=39\r\n" \
    "a=rtpmap:45 AV1/90000\r\n" \
    "a=rtcp-fb:45 goog-remb\r\n" \
    "a=rtcp-fb:45 transport-cc\r\n" \
    "a=rtcp-fb:45 ccm fir\r\n" \
    "a=rtcp-fb:45 nack\r\n" \
    "a=rtcp-fb:45 nack pli\r\n" \
    "a=rtpmap:46 rtx/90000\r\n" \
    "a=fmtp:46 apt=45\r\n" \
    "a=rtpmap:98 VP9/90000\r\n" \
    "a=rtcp-fb:98 goog-remb\r\n" \
    "a=rtcp-fb:98 transport-cc\r\n" \
    "a=rtcp-fb:98 ccm fir\r\n" \
    "a=rtcp-fb:98 nack\r\n" \
    "a=rtcp-fb:98 nack pli\r\n" \
    "a=fmtp:98 profile-id=0\r\n" \
    "a=rtpmap:99 rtx/90000\r\n" \
    "a=fmtp:99 apt=98\r\n" \
    "a=rtpmap:100 VP9/90000\r\n" \
    "a=rtcp-fb:100 goog-remb\r\n" \
    "a=rtcp-fb:100 transport-cc\r\n" \
    "a=rtcp-fb:100 ccm fir\r\n" \
    "a=rtcp-fb:100 nack\r\n" \
    "a=rtcp-fb:100 nack pli\r\n" \
    "a=fmtp:100 profile-id=2\r\n" \
    "a=rtpmap:101 rtx/90000\r\n" \
    "a=fmtp:101 apt=100\r\n" \
    "a=rtpmap:112 red/90000\r\n" \
    "a=rtpmap:113 rtx/90000\r\n" \
    "a=fmtp:113 apt=112\r\n" \
    "a=rtpmap:114 ulpfec/90000\r\n" \
    "a=ssrc-group:FID 2231627014 632943048\r\n" \
    "a=ssrc:2231627014 cname:kq3Zb7Yx1uVt2s9w\r\n" \
    "a=ssrc:2231627014 msid:3fc0c5b2-7a4e-4d1b-9a44-6b2d0e3f5c11 1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809\r\n" \
    "a=ssrc:632943048 cname:kq3Zb7Yx1uVt2s9w\r\n" \
    "a=ssrc:632943048 msid:3fc0c5b2-7a4e-4d1b-9a44-6b2d0e3f5c11 1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809\r\n"

/* aiortc (Python WebRTC): audio only, end-of-candidates */
#define SDP_AIORTC \
    "v=0\r\n" \
    "o=- 3917526473 3917526473 IN IP4 0.0.0.0\r\n" \
    "s=-\r\n" \
    "t=0 0\r\n" \
    "a=group:BUNDLE 0\r\n" \
    "a=msid-semantic:WMS *\r\n" \
    "m=audio 40123 UDP/TLS/RTP/SAVPF 96 0 8\r\n" \
    "c=IN IP4 192.168.1.50\r\n" \
    "a=sendrecv\r\n" \
    "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" \
    "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" \
    "a=mid:0\r\n" \
    "a=msid:0b9e5a3c-2f44-4d7e-9c1a-5d3e8f7a6b21 e4c1d2b3-a5f6-4789-8b0c-1d2e3f4a5b6c\r\n" \
    "a=rtcp:9 IN IP4 0.0.0.0\r\n" \
    "a=rtcp-mux\r\n" \
    "a=ssrc:3822317425 cname:5f2a9c1e-7b3d-4e8f-a0b1-c2d3e4f5a6b7\r\n" \
    "a=rtpmap:96 opus/48000/2\r\n" \
    "a=rtpmap:0 PCMU/8000\r\n" \
    "a=rtpmap:8 PCMA/8000\r\n" \
    "a=candidate:a3b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4 1 udp 2130706431 192.168.1.50 40123 typ host\r\n" \
    "a=candidate:b4c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5 1 udp 1694498815 203.0.113.9 40123 typ srflx raddr 192.168.1.50 rport 40123\r\n" \
    "a=end-of-candidates\r\n" \
    "a=ice-ufrag:Hc4B\r\n" \
    "a=ice-pwd:3l9Gv0t+Xq7Rk2bWnY8sZfJ1\r\n" \
    "a=fingerprint:sha-256 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9\r\n" \
    "a=setup:actpass\r\n"

/* Skype for Business / Lync, ICE v19: SDES (a=crypto), x-candidate-ipv6, RTP/SAVP, x-caps; the candidate lines end in a space as Lync writes them */
#define SDP_SFB \
    "v=0\r\n" \
    "o=- 0 0 IN IP4 10.0.0.5\r\n" \
    "s=session\r\n" \
    "c=IN IP4 10.0.0.5\r\n" \
    "b=CT:99980\r\n" \
    "t=0 0\r\n" \
    "m=audio 21362 RTP/SAVP 117 104 114 9 112 111 0 103 8 116 115 97 13 118 101\r\n" \
    "a=x-ssrc-range:1848064512-1848064512\r\n" \
    "a=rtcp-fb:* x-message app send:dsh recv:dsh\r\n" \
    "a=rtcp-rsize\r\n" \
    "a=label:main-audio\r\n" \
    "a=x-source:main-audio\r\n" \
    "a=ice-ufrag:+aCH\r\n" \
    "a=ice-pwd:zE3tDzFbD8GUs4wJ2x1aQfE3\r\n" \
    "a=candidate:1 1 UDP 2130706431 10.0.0.5 21362 typ host \r\n" \
    "a=candidate:1 2 UDP 2130705918 10.0.0.5 21363 typ host \r\n" \
    "a=x-candidate-ipv6:2 1 UDP 2130705919 2001:db8::5 24530 typ host \r\n" \
    "a=x-candidate-ipv6:2 2 UDP 2130705406 2001:db8::5 24531 typ host \r\n" \
    "a=candidate:3 1 TCP-PASS 174455807 198.51.100.20 59761 typ relay raddr 10.0.0.5 rport 50046 \r\n" \
    "a=candidate:3 2 TCP-PASS 174455806 198.51.100.20 59761 typ relay raddr 10.0.0.5 rport 50046 \r\n" \
    "a=candidate:4 1 UDP 184547327 198.51.100.20 52912 typ relay raddr 10.0.0.5 rport 21364 \r\n" \
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:Yx2bC8KzVq1zT4vI6jN9mP0oR3sU5wX7yA2cE4gI|2^31|1:1\r\n" \
    "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:Q3w9E8r7T6y5U4i3O2p1A0s9D8f7G6h5J4k3L2z1|2^31\r\n" \
    "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:m+Lk9Jh8Gf7Dd6Ss5Aa4Qq3Ww2Ee1Rr0Tt9Yy8Uu|2^31|1:1\r\n" \
    "a=maxptime:200\r\n" \
    "a=rtcp:21363\r\n" \
    "a=rtpmap:117 G722/8000/2\r\n" \
    "a=rtpmap:104 SILK/16000\r\n" \
    "a=fmtp:104 useinbandfec=1; usedtx=0\r\n" \
    "a=rtpmap:114 x-msrta/16000\r\n" \
    "a=fmtp:114 bitrate=29000\r\n" \
    "a=rtpmap:9 G722/8000\r\n" \
    "a=rtpmap:112 G7221/16000\r\n" \
    "a=fmtp:112 bitrate=24000\r\n" \
    "a=rtpmap:111 SIREN/16000\r\n" \
    "a=fmtp:111 bitrate=16000\r\n" \
    "a=rtpmap:0 PCMU/8000\r\n" \
    "a=rtpmap:103 SILK/8000\r\n" \
    "a=rtpmap:8 PCMA/8000\r\n" \
    "a=rtpmap:116 AAL2-G726-32/8000\r\n" \
    "a=rtpmap:115 x-msrta/8000\r\n" \
    "a=rtpmap:97 RED/8000\r\n" \
    "a=rtpmap:13 CN/8000\r\n" \
    "a=rtpmap:118 CN/16000\r\n" \
    "a=rtpmap:101 telephone-event/8000\r\n" \
    "a=fmtp:101 0-16\r\n" \
    "a=encryption:required\r\n" \
    "m=video 20994 RTP/SAVP 122 121 123\r\n" \
    "a=x-ssrc-range:1848064513-1848064612\r\n" \
    "a=rtcp-fb:* x-message app send:src,x-pli recv:src,x-pli\r\n" \
    "a=rtcp-rsize\r\n" \
    "a=label:main-video\r\n" \
    "a=x-source:main-video\r\n" \
    "a=ice-ufrag:Xv0q\r\n" \
    "a=ice-pwd:b8Nn7Mm6Ll5Kk4Jj3Hh2Gg1F\r\n" \
    "a=candidate:1 1 UDP 2130706431 10.0.0.5 20994 typ host \r\n" \
    "a=candidate:1 2 UDP 2130705918 10.0.0.5 20995 typ host \r\n" \
    "a=x-candidate-ipv6:2 1 UDP 2130705919 2001:db8::5 25612 typ host \r\n" \
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:Zz9Xx8Cc7Vv6Bb5Nn4Mm3Ll2Kk1Jj0Hh9Gg8Ff|2^31|1:1\r\n" \
    "a=x-caps:121 263:1920:1080:30.0:2000000:1;4359:1280:720:30.0:1500000:1;8455:640:480:30.0:600000:1;12551:640:360:30.0:600000:1;16647:352:288:15.0:250000:1;20743:424:240:15.0:250000:1;24839:176:144:15.0:180000:1\r\n" \
    "a=x-mediabw:main-video send=8100;recv=4000\r\n" \
    "a=rtcp:20995\r\n" \
    "a=rtpmap:122 X-H264UC/90000\r\n" \
    "a=fmtp:122 packetization-mode=1;mst-mode=NI-TC\r\n" \
    "a=rtpmap:121 x-rtvc1/90000\r\n" \
    "a=rtpmap:123 x-ulpfecuc/90000\r\n" \
    "a=encryption:required\r\n"

/* Lync, ICE v6 (the draft-6 candidate syntax): the first part of its multipart/alternative offer */
#define SDP_SFB_ICE6 \
    "v=0\r\n" \
    "o=- 0 0 IN IP4 10.0.0.5\r\n" \
    "s=session\r\n" \
    "c=IN IP4 10.0.0.5\r\n" \
    "b=CT:99980\r\n" \
    "t=0 0\r\n" \
    "m=audio 21362 RTP/SAVP 117 104 9 0 8 101\r\n" \
    "a=ice-ufrag:hQ7p\r\n" \
    "a=ice-pwd:Vn3bT8cK1xM6zR0wY4sL9dF2\r\n" \
    "a=candidate:ZGVmYXVsdCBjYW5kaWRhdGUx 1 AAAAAAQ7kqzQnHp1WFaM6A UDP 0.830 10.0.0.5 21362\r\n" \
    "a=candidate:ZGVmYXVsdCBjYW5kaWRhdGUx 2 AAAAAAQ7kqzQnHp1WFaM6A UDP 0.830 10.0.0.5 21363\r\n" \
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:Yx2bC8KzVq1zT4vI6jN9mP0oR3sU5wX7yA2cE4gI|2^31|1:1\r\n" \
    "a=maxptime:200\r\n" \
    "a=rtcp:21363\r\n" \
    "a=rtpmap:117 G722/8000/2\r\n" \
    "a=rtpmap:104 SILK/16000\r\n" \
    "a=rtpmap:9 G722/8000\r\n" \
    "a=rtpmap:0 PCMU/8000\r\n" \
    "a=rtpmap:8 PCMA/8000\r\n" \
    "a=rtpmap:101 telephone-event/8000\r\n" \
    "a=fmtp:101 0-16\r\n" \
    "a=encryption:required\r\n"

/* Lync and SfB desktops offer both ICE versions in one multipart/alternative body. */
#define SDP_MULTIPART_BOUNDARY "----=_NextPart_9628"
#define SDP_MULTIPART_CTYPE \
    "multipart/alternative;boundary=\"" SDP_MULTIPART_BOUNDARY "\""
#define SDP_MULTIPART \
    "--" SDP_MULTIPART_BOUNDARY "\r\n" \
    "Content-Type: application/sdp\r\n" \
    "Content-Transfer-Encoding: 7bit\r\n" \
    "Content-ID: <2e8a1fa5bc6b5a4d8ba3c0e6c1c9b6f2@contoso.com>\r\n" \
    "Content-Disposition: session; handling=optional; ms-proxy-2007fallback\r\n" \
    "\r\n" \
    SDP_SFB_ICE6 \
    "--" SDP_MULTIPART_BOUNDARY "\r\n" \
    "Content-Type: application/sdp\r\n" \
    "Content-Transfer-Encoding: 7bit\r\n" \
    "Content-ID: <c4f0e1d2a3b4c5d6e7f8091a2b3c4d5e@contoso.com>\r\n" \
    "Content-Disposition: session; handling=optional\r\n" \
    "\r\n" \
    SDP_SFB \
    "--" SDP_MULTIPART_BOUNDARY "--\r\n"

#endif
