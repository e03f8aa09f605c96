fn main() {
    cairn::start();
}
