using System.Diagnostics;

namespace Mixer.Cli.Tests;

/// <summary>What mixc says about how it is called: help, bad flags, exit codes.</summary>
public sealed class UsageTests
{
    [Theory]
    [InlineData("check", "mixc check -m localhost:9091 -s destination.service=")]
    [InlineData("report", "mixc report -m localhost:9091 -s source.namespace=default")]
    public async Task Help_ShowsAnExampleAndTheIstioFlags(string command, string example)
    {
        var (code, output, _) = await MixcRunner.RunAsync(command, "--help");

        code.ShouldBe(0);
        output.ShouldContain("Example:");
        output.ShouldContain(example);
        foreach (var flag in new[] { "--mixer", "--string_attributes", "--int64_attributes", "--double_attributes", "--bool_attributes", "--timestamp_attributes", "--duration_attributes", "--bytes_attributes", "--stringmap_attributes", "--attributes", "--repeat", "--concurrency", "--output" })
        {
            output.ShouldContain(flag);
        }
    }

    [Fact]
    public async Task Help_OfCheck_ListsQuotasAndTheExitCodes()
    {
        var (_, output, _) = await MixcRunner.RunAsync("check", "--help");

        output.ShouldContain("-q, --quotas");
        output.ShouldContain("3 denied");
    }

    [Theory]
    [InlineData("-i", "response.code=abc", "--int64_attributes 'response.code=abc': 'abc' is not a valid int64")]
    [InlineData("-b", "x=yes", "--bool_attributes 'x=yes': 'yes' is not a valid bool")]
    [InlineData("-t", "x=yesterday", "--timestamp_attributes 'x=yesterday'")]
    [InlineData("--bytes_attributes", "x=0a:zz", "--bytes_attributes 'x=0a:zz'")]
    [InlineData("--stringmap_attributes", "x=novalue", "--stringmap_attributes 'x=novalue'")]
    [InlineData("-s", "novalue", "--string_attributes 'novalue': write name=value")]
    [InlineData("-s", "=x", "the attribute name is missing")]
    [InlineData("-q", "requestcount=lots", "--quotas 'requestcount=lots'")]
    [InlineData("--repeat", "0", "--repeat must be at least 1")]
    [InlineData("--output", "yaml", "yaml")]
    [InlineData("--mixer", "nohostport", "--mixer 'nohostport'")]
    public async Task BadFlag_ExitsTwoNamingIt(string flag, string value, string expected)
    {
        var (code, output, error) = await MixcRunner.RunAsync("check", flag, value);

        code.ShouldBe(2);
        error.ShouldContain(expected);
        output.ShouldBeEmpty();
    }

    [Fact]
    public async Task UnknownFlag_ExitsTwo()
    {
        var (code, _, error) = await MixcRunner.RunAsync("report", "--no-such-flag");

        code.ShouldBe(2);
        error.ShouldContain("--no-such-flag");
    }

    [Fact]
    public async Task Process_MixsUnreachable_ExitCodeIsOne()
    {
        // The real executable as built in its own project (beside mixs in this test's output it
        // would bind the web framework's assemblies), so the exit code is what a shell script sees.
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { MixcDll(), "check", "-m", MixcRunner.UnusedAddress(), "-s", "a=b" })
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        var error = await process.StandardError.ReadToEndAsync();

        process.ExitCode.ShouldBe(1, error);
        output.ShouldStartWith("Check RPC failed with: Unavailable");
    }

    // mixer/Mixer.Cli/bin/<configuration>/net10.0/mixc.dll, the configuration being this test's own.
    private static string MixcDll([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "..", ".."));
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var dll = Path.Combine(root, "mixer", "Mixer.Cli", "bin", configuration, "net10.0", "mixc.dll");
        File.Exists(dll).ShouldBeTrue($"{dll} should be built (Mixer.Cli.Tests references Mixer.Cli)");
        return dll;
    }
}
