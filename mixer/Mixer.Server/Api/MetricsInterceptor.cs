using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Prometheus;

namespace Mixer.Server.Api;

/// <summary>
/// Counts every call by method and status and times it, with the metric names of
/// go-grpc-prometheus, which Istio's Mixer exported (so existing dashboards keep working).
/// </summary>
internal sealed class MetricsInterceptor : Interceptor
{
    private static readonly Counter s_started = Metrics.CreateCounter(
        "grpc_server_started_total", "gRPC calls started on the server.", "grpc_type", "grpc_service", "grpc_method");

    private static readonly Counter s_handled = Metrics.CreateCounter(
        "grpc_server_handled_total", "gRPC calls completed on the server, by status code.", "grpc_type", "grpc_service", "grpc_method", "grpc_code");

    private static readonly Histogram s_latency = Metrics.CreateHistogram(
        "grpc_server_handling_seconds", "Time to handle a gRPC call on the server.",
        new HistogramConfiguration
        {
            LabelNames = ["grpc_type", "grpc_service", "grpc_method"],
            Buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        });

    // Label children resolved once per method: WithLabels hashes its labels on every call.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, MethodMetrics> s_methods = new(StringComparer.Ordinal);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var metrics = For(context.Method);
        metrics.Started.Inc();
        var start = Stopwatch.GetTimestamp();
        var code = StatusCode.OK;
        try
        {
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            code = e.StatusCode;
            throw;
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            code = StatusCode.Cancelled;
            throw;
        }
        catch
        {
            code = StatusCode.Unknown;
            throw;
        }
        finally
        {
            metrics.Handled(code).Inc();
            metrics.Latency.Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }

    /// <summary>Counts a call that failed before reaching the handler (e.g. an undecodable message).</summary>
    public static void CountRejected(string fullMethod, StatusCode code)
    {
        var metrics = For(fullMethod);
        metrics.Started.Inc();
        metrics.Handled(code).Inc();
    }

    private static MethodMetrics For(string fullMethod) => s_methods.GetOrAdd(fullMethod, static m => new MethodMetrics(m));

    private sealed class MethodMetrics
    {
        private readonly Counter.Child?[] _handled = new Counter.Child?[17];
        private readonly string _service;
        private readonly string _method;

        public MethodMetrics(string fullMethod)
        {
            (_service, _method) = Split(fullMethod);
            Started = s_started.WithLabels("unary", _service, _method);
            Latency = s_latency.WithLabels("unary", _service, _method);
        }

        public Counter.Child Started { get; }

        public Histogram.Child Latency { get; }

        public Counter.Child Handled(StatusCode code)
        {
            var i = (int)code;
            if ((uint)i >= (uint)_handled.Length)
            {
                return s_handled.WithLabels("unary", _service, _method, CodeName(code));
            }

            return _handled[i] ??= s_handled.WithLabels("unary", _service, _method, CodeName(code));
        }
    }

    private static (string Service, string Method) Split(string fullMethod)
    {
        // "/istio.mixer.v1.Mixer/Check"
        var slash = fullMethod.LastIndexOf('/');
        return slash > 0 ? (fullMethod[1..slash], fullMethod[(slash + 1)..]) : ("unknown", fullMethod);
    }

    private static string CodeName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        StatusCode.Cancelled => "Canceled",
        StatusCode.InvalidArgument => "InvalidArgument",
        StatusCode.DeadlineExceeded => "DeadlineExceeded",
        StatusCode.NotFound => "NotFound",
        StatusCode.AlreadyExists => "AlreadyExists",
        StatusCode.PermissionDenied => "PermissionDenied",
        StatusCode.ResourceExhausted => "ResourceExhausted",
        StatusCode.FailedPrecondition => "FailedPrecondition",
        StatusCode.Aborted => "Aborted",
        StatusCode.OutOfRange => "OutOfRange",
        StatusCode.Unimplemented => "Unimplemented",
        StatusCode.Internal => "Internal",
        StatusCode.Unavailable => "Unavailable",
        StatusCode.DataLoss => "DataLoss",
        StatusCode.Unauthenticated => "Unauthenticated",
        _ => "Unknown",
    };
}
