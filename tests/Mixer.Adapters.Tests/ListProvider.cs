using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Mixer.Adapters.Tests;

/// <summary>A list provider on a loopback port: serves <see cref="Body"/>, or fails with <see cref="FailWith"/>.</summary>
internal sealed class ListProvider : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _serving;

    public ListProvider()
    {
        // HttpListener cannot pick its own port: take a free one from the OS first.
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            Url = $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}/list.txt";
            probe.Stop();
        }

        _listener.Prefixes.Add(Url[..(Url.LastIndexOf('/') + 1)]);
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public string Url { get; }

    public volatile string Body = string.Empty;

    /// <summary>When not 0, every request gets this status code.</summary>
    public volatile int FailWith;

    public int Requests;

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            Interlocked.Increment(ref Requests);
            if (FailWith != 0)
            {
                ctx.Response.StatusCode = FailWith;
                ctx.Response.Close();
                continue;
            }

            var bytes = Encoding.UTF8.GetBytes(Body);
            ctx.Response.ContentType = "text/plain";
            await ctx.Response.OutputStream.WriteAsync(bytes);
            ctx.Response.Close();
        }
    }
}
