using Grpc.Net.Client;

namespace Mixer.Runtime.Remote;

/// <summary>
/// One gRPC channel per adapter address, shared by every handler that points there (a rebuilt
/// handler reuses the channel of the one it replaces), closed when the last user lets it go.
/// Channels connect lazily: a handler for an adapter that is not up yet is built all the same.
/// </summary>
internal static class RemoteChannels
{
    private static readonly Dictionary<string, Entry> s_channels = new(StringComparer.Ordinal);

    public static Lease Acquire(string address)
    {
        lock (s_channels)
        {
            if (!s_channels.TryGetValue(address, out var entry))
            {
                entry = new Entry(GrpcChannel.ForAddress("http://" + address, new GrpcChannelOptions
                {
                    HttpHandler = new SocketsHttpHandler
                    {
                        EnableMultipleHttp2Connections = true,
                        // A dead connection is noticed between calls, not on the next Check.
                        KeepAlivePingDelay = TimeSpan.FromSeconds(30),
                        KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                        ConnectTimeout = TimeSpan.FromSeconds(5),
                    },

                    // An adapter that was down is tried again soon after it comes back, not minutes later.
                    InitialReconnectBackoff = TimeSpan.FromMilliseconds(100),
                    MaxReconnectBackoff = TimeSpan.FromSeconds(2),

                    // No service config, so no built-in retries: ours are bounded by the
                    // dispatcher's deadline and counted in metrics.
                }));
                s_channels[address] = entry;
            }

            entry.Users++;
            return new Lease(address, entry.Channel);
        }
    }

    /// <summary>How many addresses have an open channel (tests).</summary>
    public static int OpenCount
    {
        get
        {
            lock (s_channels)
            {
                return s_channels.Count;
            }
        }
    }

    private static void Release(string address)
    {
        GrpcChannel? close = null;
        lock (s_channels)
        {
            if (s_channels.TryGetValue(address, out var entry) && --entry.Users == 0)
            {
                s_channels.Remove(address);
                close = entry.Channel;
            }
        }

        close?.Dispose();
    }

    private sealed class Entry(GrpcChannel channel)
    {
        public GrpcChannel Channel { get; } = channel;

        public int Users { get; set; }
    }

    /// <summary>A handler's use of a channel; dispose once.</summary>
    internal sealed class Lease(string address, GrpcChannel channel) : IDisposable
    {
        private int _disposed;

        public GrpcChannel Channel { get; } = channel;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Release(address);
            }
        }
    }
}
