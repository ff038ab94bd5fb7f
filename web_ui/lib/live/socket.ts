// One WebSocket to /api/v1/ws for the whole page, shared by every live view.
//
// Protocol (the dashboard's events module): subscribe to a topic with the last sequence number
// seen ("after"); the server first replays every stored event after it, then live ones. This
// client keeps the last seq per topic, so after a reconnect (server restart, network blip) or a
// "lagged" notice it resubscribes from there: no lost and no doubled points.
import { create } from "zustand";
import { API_BASE } from "@/lib/api/client";

export type LiveStatus = "connecting" | "open" | "down";

export interface LiveEvent {
  topic: string;
  seq: number;
  ts: number;
  data: Record<string, unknown>;
}

type Handler = (event: LiveEvent) => void;

interface LiveState {
  status: LiveStatus;
  /** when the connection went down (ms), for the banner */
  downSince: number | null;
  setStatus: (status: LiveStatus) => void;
}

export const useLiveStatus = create<LiveState>((set) => ({
  status: "connecting",
  downSince: null,
  setStatus: (status) =>
    set((s) => ({
      status,
      downSince: status === "down" ? (s.downSince ?? Date.now()) : status === "open" ? null : s.downSince,
    })),
}));

interface Subscription {
  handlers: Set<Handler>;
  /** newest seq delivered; null = live only (nothing replayed) */
  lastSeq: number | null;
}

const SILENCE_LIMIT_MS = 60_000; // the server pings every ~20 s
const MAX_BACKOFF_MS = 5_000;

function socketUrl(): string {
  const base = API_BASE || window.location.origin;
  return `${base.replace(/^http/, "ws")}/api/v1/ws`;
}

class LiveSocket {
  private ws: WebSocket | null = null;
  private topics = new Map<string, Subscription>();
  private backoff = 250;
  private silenceTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;

  /** Listen to a topic; `after` = the seq to replay from (0 = everything stored, null = live
   *  only). Returns the function that stops listening. */
  subscribe(topic: string, handler: Handler, after: number | null = null): () => void {
    let sub = this.topics.get(topic);
    if (!sub) {
      sub = { handlers: new Set(), lastSeq: after };
      this.topics.set(topic, sub);
      this.send({ op: "subscribe", topic, after });
    }
    sub.handlers.add(handler);
    this.ensureOpen();
    return () => {
      const current = this.topics.get(topic);
      if (!current) return;
      current.handlers.delete(handler);
      if (current.handlers.size === 0) {
        this.topics.delete(topic);
        this.send({ op: "unsubscribe", topic });
      }
    };
  }

  private ensureOpen() {
    if (typeof window === "undefined") return;
    this.stopped = false;
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    if (this.retryTimer) return;
    this.connect();
  }

  private connect() {
    this.retryTimer = null;
    useLiveStatus.getState().setStatus(this.ws ? "down" : "connecting");
    const ws = new WebSocket(socketUrl());
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 250;
      useLiveStatus.getState().setStatus("open");
      this.heard();
      for (const [topic, sub] of this.topics) {
        ws.send(JSON.stringify({ op: "subscribe", topic, after: sub.lastSeq }));
      }
    };
    ws.onmessage = (message) => {
      this.heard();
      this.receive(String(message.data));
    };
    ws.onclose = (close) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.silenceTimer) clearTimeout(this.silenceTimer);
      if (close.code === 4401) {
        // Logged out or session expired: the next API call sends the user to the login page.
        useLiveStatus.getState().setStatus("down");
        return;
      }
      useLiveStatus.getState().setStatus("down");
      if (!this.stopped && this.topics.size > 0) this.scheduleRetry();
    };
  }

  private scheduleRetry() {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  private heard() {
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => this.ws?.close(), SILENCE_LIMIT_MS);
  }

  private receive(text: string) {
    let msg: { type?: string; topic?: string; seq?: number; ts?: number; data?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === "ping") {
      this.send({ op: "pong" });
      return;
    }
    const sub = msg.topic ? this.topics.get(msg.topic) : undefined;
    if (!sub || !msg.topic) return;
    if (msg.type === "subscribed" && sub.lastSeq === null && typeof msg.seq === "number") {
      // Live-only subscribers still resume from here after a reconnect.
      sub.lastSeq = msg.seq;
    } else if (msg.type === "lagged") {
      this.send({ op: "subscribe", topic: msg.topic, after: sub.lastSeq });
    } else if (msg.type === "event" && typeof msg.seq === "number") {
      if (sub.lastSeq !== null && msg.seq <= sub.lastSeq) return; // already delivered
      sub.lastSeq = msg.seq;
      const event: LiveEvent = {
        topic: msg.topic,
        seq: msg.seq,
        ts: msg.ts ?? Date.now() / 1000,
        data: (msg.data ?? {}) as Record<string, unknown>,
      };
      for (const handler of sub.handlers) handler(event);
    }
  }

  private send(message: object) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** Close on logout; the next subscribe reconnects. */
  close() {
    this.stopped = true;
    this.topics.clear();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.ws?.close();
    this.ws = null;
  }
}

export const liveSocket = new LiveSocket();
