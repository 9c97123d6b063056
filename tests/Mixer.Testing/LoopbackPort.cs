using System.Net;
using System.Net.Sockets;

namespace Mixer.Testing;

/// <summary>Free ports on 127.0.0.1, for servers that must be told their port (redis-server, Prometheus, mixs's prometheus adapter).</summary>
public static class LoopbackPort
{
    /// <summary>A port that was free a moment ago (another process may still take it: retry on a bind failure).</summary>
    public static int Free()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

/// <summary>What a child process printed, collected line by line from any thread.</summary>
public sealed class ProcessOutput
{
    private readonly System.Text.StringBuilder _text = new();

    /// <summary>Adds a line (a null, the end of a stream, is ignored): hook it to OutputDataReceived and ErrorDataReceived.</summary>
    public void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_text)
        {
            _text.AppendLine(line);
        }
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        lock (_text)
        {
            return _text.ToString();
        }
    }
}
