namespace Mixer.Sdk.OutOfProcess.Tests;

/// <summary>The adapter process's command line.</summary>
public sealed class HostArgsTests
{
    [Theory]
    [InlineData(new[] { "--port", "45678" }, "127.0.0.1:45678")]
    [InlineData(new[] { "--port=0" }, "127.0.0.1:0")]
    [InlineData(new[] { "--address", "[::1]:9000" }, "[::1]:9000")]
    [InlineData(new[] { "--address", "unix:///tmp/a.sock" }, "unix:///tmp/a.sock")]
    [InlineData(new string[0], "127.0.0.1:0")]
    public void Args_SetTheListenAddress(string[] args, string address)
    {
        var options = new AdapterHostOptions();

        var r = HostArgs.Apply(args, options);

        r.Error.ShouldBeNull();
        options.Address.ShouldBe(address);
    }

    [Theory]
    [InlineData(new[] { "--port", "http" }, "flag --port: 'http' is not a port (0..65535; 0 picks a free one)")]
    [InlineData(new[] { "--address", "example.com:80" }, "flag --address: 'example.com' is not an IP address or localhost (the adapter binds an address, it does not resolve names)")]
    [InlineData(new[] { "--address", "127.0.0.1" }, "flag --address: '127.0.0.1' is not HOST:PORT (e.g. 127.0.0.1:45678, [::1]:45678, localhost:0)")]
    [InlineData(new[] { "--verbose" }, "unknown argument '--verbose'")]
    [InlineData(new[] { "--port" }, "flag --port needs a value")]
    [InlineData(new[] { "--log-level", "loud" }, "flag --log-level: 'loud' is not one of Trace, Debug, Information, Warning, Error, Critical, None")]
    public void BadArgs_SayWhatIsWrong(string[] args, string error)
    {
        HostArgs.Apply(args, new AdapterHostOptions()).Error.ShouldBe(error);
    }

    [Fact]
    public async Task RunAsync_BadArgs_ExitsWith2()
    {
        (await AdapterHost.RunAsync(new RecorderAdapter(), ["--bogus"])).ShouldBe(2);
    }

    [Fact]
    public async Task RunAsync_Help_PrintsUsageAndExits0()
    {
        (await AdapterHost.RunAsync(new RecorderAdapter(), ["--help"])).ShouldBe(0);
    }
}
