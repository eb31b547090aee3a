pub mod {{snake}}_controller;
