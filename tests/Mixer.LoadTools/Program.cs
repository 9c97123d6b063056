using System.Buffers.Binary;
using System.Net;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Istio.Mixer.V1;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// mixer-load noop-mixer --port N      a Mixer that answers every Check OK and every Report empty
// mixer-load noop-adapter --port N    an out-of-process adapter whose listentry handler answers every call OK
// mixer-load check-body FILE          writes a gRPC-framed, sidecar-like CheckRequest (~20 attributes)
// mixer-load report-body FILE N       writes a gRPC-framed ReportRequest of N delta-encoded attribute sets
// mixer-load backend --port N         a sample HTTP/1.1 application: 200 with a small body for every request
switch (args.FirstOrDefault())
{
    case "backend":
        var backendPort = args.Length > 2 && args[1] == "--port" ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 0;
        var web = WebApplication.CreateSlimBuilder();
        web.Logging.ClearProviders();
        web.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, backendPort, o => o.Protocols = HttpProtocols.Http1);
        });
        var backend = web.Build();
        var hello = "hello from the backend\n"u8.ToArray();
        backend.Run(context =>
        {
            context.Response.ContentType = "text/plain";
            context.Response.ContentLength = hello.Length;
            return context.Response.Body.WriteAsync(hello).AsTask();
        });
        await backend.StartAsync();
        Console.WriteLine($"backend serving HTTP on {string.Join(",", backend.Urls)}");
        await backend.WaitForShutdownAsync();
        return 0;
    case "noop-mixer":
        var port = args.Length > 2 && args[1] == "--port" ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 0;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        var app = builder.Build();
        app.MapGrpcService<NoopMixer>();
        await app.StartAsync();
        Console.WriteLine($"noop-mixer serving gRPC on {string.Join(",", app.Urls)}");
        await app.WaitForShutdownAsync();
        return 0;
    case "noop-adapter":
        var adapterPort = args.Length > 2 && args[1] == "--port" ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 0;
        var adapterBuilder = WebApplication.CreateSlimBuilder();
        adapterBuilder.Logging.ClearProviders();
        adapterBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, adapterPort, o => o.Protocols = HttpProtocols.Http2));
        adapterBuilder.Services.AddGrpc();
        var adapter = adapterBuilder.Build();
        adapter.MapGrpcService<NoopListEntryAdapter>();
        await adapter.StartAsync();
        Console.WriteLine($"noop-adapter serving gRPC on {string.Join(",", adapter.Urls)}");
        await adapter.WaitForShutdownAsync();
        return 0;
    case "check-body":
        await File.WriteAllBytesAsync(args[1], Frame(Requests.SidecarCheck()));
        return 0;
    case "report-body":
        await File.WriteAllBytesAsync(args[1], Frame(Requests.SidecarReport(int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture))));
        return 0;
    default:
        Console.Error.WriteLine("usage: mixer-load noop-mixer --port N | noop-adapter --port N | check-body FILE | report-body FILE N | backend --port N");
        return 2;
}

static byte[] Frame(IMessage message)
{
    var payload = message.ToByteArray();
    var frame = new byte[5 + payload.Length];
    BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
    payload.CopyTo(frame, 5);
    return frame;
}

/// <summary>Answers like Mixer with no work at all: the ceiling a real Mixer is measured against.</summary>
/// <summary>The cheapest out-of-process listentry adapter: OK for every call, no caching opinion.</summary>
internal sealed class NoopListEntryAdapter : Istio.Mixer.Template.ListEntry.HandleListEntryService.HandleListEntryServiceBase
{
    private static readonly Istio.Mixer.Adapter.Model.V1beta1.CheckResult s_ok = new() { Status = new Google.Rpc.Status() };

    public override Task<Istio.Mixer.Adapter.Model.V1beta1.CheckResult> HandleListEntry(Istio.Mixer.Template.ListEntry.HandleListEntryRequest request, ServerCallContext context) =>
        Task.FromResult(s_ok);
}

internal sealed class NoopMixer : Istio.Mixer.V1.Mixer.MixerBase
{
    private static readonly CheckResponse s_ok = new()
    {
        Precondition = new CheckResponse.Types.PreconditionResult
        {
            Status = new Google.Rpc.Status(),
            ValidDuration = Duration.FromTimeSpan(TimeSpan.FromMinutes(1)),
            ValidUseCount = 10000,
            ReferencedAttributes = new ReferencedAttributes(),
        },
    };

    public override Task<CheckResponse> Check(CheckRequest request, ServerCallContext context) => Task.FromResult(s_ok);

    public override Task<ReportResponse> Report(ReportRequest request, ServerCallContext context) => Task.FromResult(new ReportResponse());
}

/// <summary>Requests shaped like an Istio 1.0 sidecar's: global words where they exist, message words otherwise.</summary>
internal static class Requests
{
    public static CheckRequest SidecarCheck() => new()
    {
        Attributes = Attributes(0),
        GlobalWordCount = (uint)GlobalDictionary.Count,
        DeduplicationId = "load-1",
    };

    public static ReportRequest SidecarReport(int sets)
    {
        var request = new ReportRequest { GlobalWordCount = (uint)GlobalDictionary.Count };
        request.Attributes.Add(Attributes(0));
        for (var i = 1; i < sets; i++)
        {
            // Deltas: what changes from one request to the next.
            var delta = new CompressedAttributes();
            delta.Int64S[G("response.code")] = i % 10 == 0 ? 503 : 200;
            delta.Int64S[G("response.size")] = 100 + i;
            delta.Durations[G("response.duration")] = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(i % 50));
            request.Attributes.Add(delta);
        }

        return request;
    }

    private static int G(string word) => GlobalDictionary.IndexOf(word) is var i and >= 0 ? i : throw new ArgumentException(word);

    private static CompressedAttributes Attributes(int seed)
    {
        var a = new CompressedAttributes();
        int Word(string w)
        {
            var g = GlobalDictionary.IndexOf(w);
            if (g >= 0)
            {
                return g;
            }

            var i = a.Words.IndexOf(w);
            if (i < 0)
            {
                a.Words.Add(w);
                i = a.Words.Count - 1;
            }

            return -1 - i;
        }

        a.Strings[Word("source.namespace")] = Word("default");
        a.Strings[Word("source.principal")] = Word("cluster.local/ns/default/sa/productpage");
        a.Strings[Word("source.uid")] = Word("kubernetes://productpage-v1-8d69b45c-xt7qh.default");
        a.Strings[Word("destination.namespace")] = Word("default");
        a.Strings[Word("destination.service.host")] = Word("reviews.default.svc.cluster.local");
        a.Strings[Word("destination.uid")] = Word("kubernetes://reviews-v1-5b5f8d8c8-2xkzp.default");
        a.Strings[Word("request.path")] = Word("/api/v1/reviews/" + seed);
        a.Strings[Word("request.method")] = Word("GET");
        a.Strings[Word("request.host")] = Word("reviews:9080");
        a.Strings[Word("request.scheme")] = Word("http");
        a.Strings[Word("request.useragent")] = Word("Mozilla/5.0");
        a.Strings[Word("request.id")] = Word("9a0c0b3e-7b7a-4f5e-8a0a-3c5c3b1f0e21");
        a.Strings[Word("context.protocol")] = Word("http");
        a.Strings[Word("context.reporter.kind")] = Word("inbound");
        a.Bools[Word("connection.mtls")] = true;
        a.Int64S[Word("destination.port")] = 9080;
        a.Int64S[Word("request.size")] = 0;
        a.Int64S[Word("response.code")] = 200;
        a.Int64S[Word("response.size")] = 295;
        a.Bytes[Word("source.ip")] = ByteString.CopyFrom(10, 44, 0, 17);
        a.Bytes[Word("destination.ip")] = ByteString.CopyFrom(10, 44, 1, 9);
        a.Timestamps[Word("request.time")] = Timestamp.FromDateTime(new DateTime(2018, 7, 31, 12, 0, 0, DateTimeKind.Utc));
        a.Durations[Word("response.duration")] = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(7));
        var headers = new Istio.Mixer.V1.StringMap();
        headers.Entries[Word(":authority")] = Word("reviews:9080");
        headers.Entries[Word(":path")] = Word("/api/v1/reviews/" + seed);
        headers.Entries[Word(":method")] = Word("GET");
        headers.Entries[Word("user-agent")] = Word("Mozilla/5.0");
        headers.Entries[Word("x-request-id")] = Word("9a0c0b3e-7b7a-4f5e-8a0a-3c5c3b1f0e21");
        headers.Entries[Word("x-user")] = Word("jason");
        a.StringMaps[Word("request.headers")] = headers;
        var labels = new Istio.Mixer.V1.StringMap();
        labels.Entries[Word("app")] = Word("productpage");
        labels.Entries[Word("version")] = Word("v1");
        a.StringMaps[Word("source.labels")] = labels;
        return a;
    }
}
