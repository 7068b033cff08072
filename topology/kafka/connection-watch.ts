/**
 * Notices when no Kafka broker can be reached any more. kafkajs retries every failed request
 * with back-off, nested (cluster, producer, transaction), so a process cut off from the cluster
 * would otherwise sit in retries for minutes. The watch wraps the client's socket factory: once
 * connections have failed without a single success for `lossMs` (the group session timeout —
 * by then the group has moved this process's partitions elsewhere anyway), it reports the loss
 * once, and the log stops as a fatal failure, like a lost database connection on Postgres.
 */
import { connect } from "node:net";
import type { ISocketFactory } from "kafkajs";
import { LannerError } from "../../common/errors.js";

const plainSockets: ISocketFactory = ({ host, port, onConnect }) => {
  const socket = connect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  return socket;
};

export class ConnectionWatch {
  private failingSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reported = false;

  constructor(
    private readonly lossMs: number,
    private readonly onLost: (err: LannerError) => void,
  ) {}

  /** Wraps `inner` (default: plain TCP sockets with keep-alive, as kafkajs makes them). */
  factory(inner: ISocketFactory = plainSockets): ISocketFactory {
    return (args) => {
      let connected = false;
      const socket = inner({
        ...args,
        onConnect: () => {
          connected = true;
          this.succeeded();
          args.onConnect();
        },
      });
      socket.once("close", () => {
        if (!connected) this.failed(`${args.host}:${args.port}`);
      });
      return socket;
    };
  }

  stop(): void {
    clearTimeout(this.timer);
    this.reported = true;
  }

  private succeeded(): void {
    this.failingSince = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private failed(where: string): void {
    if (this.reported || this.failingSince !== undefined) return;
    this.failingSince = Date.now();
    this.timer = setTimeout(() => {
      if (this.failingSince === undefined || this.reported) return;
      this.reported = true;
      this.onLost(
        new LannerError("KAFKA_CONNECTION_LOST", `Lost the connection to Kafka: no broker could be reached for ${this.lossMs} ms (last tried ${where}).`, {
          retriable: true,
        }),
      );
    }, this.lossMs);
    this.timer.unref();
  }
}
