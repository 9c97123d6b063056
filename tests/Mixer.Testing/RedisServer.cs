using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Mixer.Testing;

/// <summary>
/// A real redis-server on a free loopback port, without persistence. Dispose stops it.
/// Use it as an xunit class or collection fixture: one server for many tests.
/// </summary>
public sealed class RedisServer : IAsyncDisposable, IDisposable
{
    private readonly Process _process;
    private readonly ProcessOutput _output = new();

    private RedisServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary><c>127.0.0.1:PORT</c>, the form redisquota's <c>redisServerUrl</c> takes.</summary>
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>Where the server binary is looked for: $REDIS_SERVER, then /usr/bin/redis-server.</summary>
    public static string ServerPath => Environment.GetEnvironmentVariable("REDIS_SERVER") is { Length: > 0 } p ? p : "/usr/bin/redis-server";

    /// <summary>Starts a server and waits until it answers PING.</summary>
    public static async Task<RedisServer> StartAsync()
    {
        if (!File.Exists(ServerPath))
        {
            throw new InvalidOperationException($"redis-server not found at {ServerPath}; install the Debian package redis-server (test.sh does)");
        }

        // A port can be taken between probing and binding; try a few.
        for (var attempt = 0; ; attempt++)
        {
            var port = LoopbackPort.Free();
            var psi = new ProcessStartInfo(ServerPath)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes" })
            {
                psi.ArgumentList.Add(a);
            }

            var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start redis-server");
            var server = new RedisServer(process, port);
            process.OutputDataReceived += (_, e) => server._output.Add(e.Data);
            process.ErrorDataReceived += (_, e) => server._output.Add(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            if (await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false))
            {
                return server;
            }

            await server.DisposeAsync().ConfigureAwait(false);
            if (attempt == 2)
            {
                throw new InvalidOperationException($"redis-server did not start:\n{server.Output}");
            }
        }
    }

    /// <summary>What the server printed.</summary>
    public string Output => _output.ToString();

    /// <summary>Sends one inline command (e.g. <c>FLUSHALL</c>) and returns the first reply line.</summary>
    public async Task<string> CommandAsync(string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n")).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync().ConfigureAwait(false) ?? string.Empty;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
    }

    /// <inheritdoc/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();


    private async Task<bool> WaitUntilReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                return false;
            }

            try
            {
                if ((await CommandAsync("PING").ConfigureAwait(false)) == "+PONG")
                {
                    return true;
                }
            }
            catch (SocketException)
            {
            }
            catch (IOException)
            {
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        return false;
    }

}
